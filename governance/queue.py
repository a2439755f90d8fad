"""The board's review queue: everything waiting on a board decision, highest tier and earliest due first."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Q

from governance import hooks
from governance.models import Evidence, Review, RiskAssessment
from registry.choices import RISK_TIER_ORDER
from registry.models import AgentDelegate, HandoverProposal

# Periodic reviews enter the queue this long before they fall due.
PERIODIC_LOOKAHEAD = timedelta(days=30)


@dataclass
class QueueItem:
    kind: str  # assessment | evidence | release | periodic | handover
    title: str
    agent: object
    tier: str
    due_at: datetime
    obj: object
    can_decide: bool
    overdue: bool = False

    @property
    def sort_key(self):
        return (-RISK_TIER_ORDER.get(self.tier, RISK_TIER_ORDER["high"]), self.due_at)


def board_queue_items(user, now) -> list[QueueItem]:
    """Open work for the board. Items on agents the user maintains are listed but cannot be decided by them."""
    maintained = set(AgentDelegate.objects.filter(user=user).values_list("agent_id", flat=True))
    items: list[QueueItem] = []

    def mine(agent) -> bool:
        return agent.owner_id == user.pk or agent.pk in maintained

    for a in RiskAssessment.objects.for_user(user).filter(status="submitted").select_related("agent", "submitted_by"):
        items.append(
            QueueItem(
                "assessment",
                f"Confirm risk assessment (computed {a.computed_tier}, score {a.score})",
                a.agent,
                a.computed_tier,
                a.submitted_at,
                a,
                can_decide=not mine(a.agent) and a.submitted_by_id != user.pk,
            )
        )
    for e in Evidence.objects.for_user(user).filter(status="submitted").select_related("agent", "version"):
        items.append(
            QueueItem(
                "evidence",
                f"Review evidence for {e.control_code}",
                e.agent,
                e.agent.risk_tier,
                e.submitted_at,
                e,
                can_decide=not mine(e.agent) and e.submitted_by_id != user.pk,
            )
        )
    reviews = (
        Review.objects.for_user(user)
        .filter(status="open")
        .filter(Q(kind="release") | Q(kind="periodic", due_at__lte=now + PERIODIC_LOOKAHEAD))
        .select_related("agent", "version")
    )
    for r in reviews:
        if r.kind == "release":
            title = f"Approve release of {r.version.label} to {r.environment}"
            due = r.requested_at
        else:
            title = "Periodic review"
            due = r.due_at
        items.append(
            QueueItem(
                r.kind,
                title,
                r.agent,
                r.agent.risk_tier,
                due,
                r,
                can_decide=not mine(r.agent),
                overdue=r.is_overdue(now),
            )
        )
    # Handovers after a deprovisioning that nobody has taken: declined, or nobody could be proposed.
    for h in (
        HandoverProposal.objects.for_user(user, "reassign")
        .filter(Q(status="declined") | Q(status="pending", proposed_to__isnull=True))
        .filter(agent__owner=F("from_owner"))
        .select_related("agent", "from_owner")
    ):
        items.append(
            QueueItem(
                "handover",
                f"Choose a new owner: {h.from_owner} left"
                + (" and the proposed person declined" if h.status == "declined" else ""),
                h.agent,
                h.agent.risk_tier,
                h.decided_at or h.created_at,
                h,
                can_decide=True,
            )
        )
    for provider in hooks.board_queue_providers:
        items.extend(provider(user, now))
    items.sort(key=lambda item: item.sort_key)
    return items
