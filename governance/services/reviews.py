"""Board reviews (release and periodic), their conditions, and the releases they approve."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance import gate
from governance.choices import (
    APPROVING_DECISIONS,
    ConditionStatus,
    Decision,
    GovernanceEvent,
    ReviewKind,
    ReviewStatus,
)
from governance.models import Release, Review, ReviewCondition, RiskPolicy
from governance.policy import review_interval
from governance.services._common import ensure, ensure_can_maintain, ensure_independent_board_member
from registry import audit
from registry import services as registry_services
from registry.choices import Environment, Lifecycle
from registry.exceptions import Conflict
from registry.roles import is_board


def request_release_review(agent, version, environment: str, *, actor, summary: str = "") -> Review:
    """Ask the board to approve a version for an environment."""
    ensure_can_maintain(actor, agent, "Only the agent's owner or a delegate may ask for a release review.")
    if version is None or version.agent_id != agent.pk:
        raise ValidationError({"version": "Choose a version of this agent."})
    if environment not in Environment.values:
        raise ValidationError({"environment": f"{environment!r} is not an environment."})
    blocked = gate.check_release(agent, None, Environment.DEVELOPMENT)
    if blocked:
        raise ValidationError({"__all__": blocked})
    if Release.objects.filter(version=version, environment=environment).exists():
        raise ValidationError({"version": f"Version {version.label} is already approved for {environment}."})
    with transaction.atomic():
        review = Review(
            agent=agent,
            kind=ReviewKind.RELEASE,
            version=version,
            environment=environment,
            tier=agent.risk_tier,
            policy=RiskPolicy.objects.current(),
            summary=(summary or "").strip(),
            requested_by=actor,
            requested_at=timezone.now(),
        )
        review.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                review.save()
        except IntegrityError as exc:
            raise ValidationError(
                {"version": f"A review of version {version.label} for {environment} is already open."}
            ) from exc
        audit.record(
            GovernanceEvent.REVIEW_REQUESTED,
            actor=actor,
            target=review,
            agent=agent,
            after={"kind": review.kind, "version": version.label, "environment": environment},
        )
    return review


def schedule_periodic_review(agent, *, due_at, actor=None) -> Review:
    """Open the agent's next periodic review, due at ``due_at`` (system action when actor is None)."""
    with transaction.atomic():
        review = Review(
            agent=agent,
            kind=ReviewKind.PERIODIC,
            tier=agent.risk_tier,
            policy=RiskPolicy.objects.current(),
            due_at=due_at,
            requested_by=actor,
            requested_at=timezone.now(),
        )
        review.save()
        audit.record(
            GovernanceEvent.REVIEW_SCHEDULED,
            actor=actor,
            target=review,
            agent=agent,
            after={"kind": review.kind, "due_at": due_at, "tier": agent.risk_tier},
        )
    return review


def ensure_periodic_review(agent, *, now=None) -> Review | None:
    """An assessed agent that runs (or is approved to) always has one open periodic review, due by its cadence."""
    now = now or timezone.now()
    if not agent.risk_tier or agent.lifecycle in (Lifecycle.PROPOSED, Lifecycle.RETIRED):
        return None
    existing = Review.objects.filter(agent=agent, kind=ReviewKind.PERIODIC, status=ReviewStatus.OPEN).first()
    if existing is not None:
        return existing
    last = (
        Review.objects.filter(agent=agent, kind=ReviewKind.PERIODIC, status=ReviewStatus.DECIDED)
        .order_by("-decided_at")
        .first()
    )
    start = last.decided_at if last else now
    return schedule_periodic_review(agent, due_at=start + review_interval(agent.risk_tier))


def _claim_open(review: Review, **fields) -> Review:
    """Decide an open review exactly once: a conditional UPDATE on status; the loser gets a conflict."""
    updated = Review.objects.filter(pk=review.pk, status=ReviewStatus.OPEN).update(**fields)
    if not updated:
        current = Review.objects.select_related("decided_by").get(pk=review.pk)
        who = f" by {current.decided_by}" if current.decided_by else ""
        raise Conflict(f"This review was already decided{who}; nothing was changed. Reload to see the decision.")
    return Review.objects.select_related("agent", "version").get(pk=review.pk)


def decide_review(review: Review, *, actor, decision: str, reason: str, conditions=()) -> Review:
    """Approve, approve with conditions, or reject an open review, with reasons.

    An approved release review creates the Release the gate looks for; a
    decided periodic review schedules the next one by the tier's cadence.
    """
    agent = review.agent
    ensure_independent_board_member(actor, agent, "decide this review")
    if decision not in Decision.values:
        raise ValidationError({"decision": "Choose approve, approve with conditions or reject."})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give the reasons for the decision; they are kept with it."})
    conditions = [c.strip() for c in conditions if c and c.strip()]
    if decision == Decision.APPROVE_WITH_CONDITIONS and not conditions:
        raise ValidationError({"conditions": "List at least one condition."})
    if decision != Decision.APPROVE_WITH_CONDITIONS and conditions:
        raise ValidationError({"conditions": "Conditions go with an approval with conditions."})
    if decision in APPROVING_DECISIONS:
        blocked = gate.check_release(agent, None, Environment.DEVELOPMENT)
        if blocked:
            raise ValidationError({"decision": blocked})
    now = timezone.now()
    with transaction.atomic():
        decided = _claim_open(
            review,
            status=ReviewStatus.DECIDED,
            decision=decision,
            decision_reason=reason,
            decided_by=actor,
            decided_at=now,
        )
        created_conditions = ReviewCondition.objects.bulk_create(
            [ReviewCondition(review=decided, text=text) for text in conditions]
        )
        audit.record(
            GovernanceEvent.REVIEW_DECIDED,
            actor=actor,
            target=decided,
            agent=agent,
            before={"status": ReviewStatus.OPEN},
            after={
                "status": ReviewStatus.DECIDED,
                "decision": decision,
                "reason": reason,
                "conditions": conditions,
                "policy_version": decided.policy.version,
            },
        )
        if decided.kind == ReviewKind.RELEASE and decision in APPROVING_DECISIONS:
            release = Release.objects.create(
                agent=agent,
                version=decided.version,
                environment=decided.environment,
                review=decided,
                approved_by=actor,
                approved_at=now,
            )
            audit.record(
                GovernanceEvent.RELEASE_APPROVED,
                actor=actor,
                target=release,
                agent=agent,
                after={"version": decided.version.label, "environment": decided.environment},
            )
        if decided.kind == ReviewKind.PERIODIC:
            agent.refresh_from_db()
            ensure_periodic_review(agent, now=now)
        decided._created_conditions = created_conditions
    return decided


def cancel_review(review: Review, *, actor, reason: str) -> Review:
    """Withdraw an open release review (the requester side) or cancel any open review (the board)."""
    agent = review.agent
    ensure(
        is_board(actor) or registry_services.can_change_agent(actor, agent),
        "Only the agent's owner, a delegate or the governance board may cancel this review.",
    )
    if review.kind == ReviewKind.PERIODIC and not is_board(actor):
        raise ValidationError({"__all__": "Periodic reviews are part of the policy; only the board may cancel one."})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the review is cancelled."})
    with transaction.atomic():
        cancelled = _claim_open(review, status=ReviewStatus.CANCELLED)
        audit.record(
            GovernanceEvent.REVIEW_CANCELLED,
            actor=actor,
            target=cancelled,
            agent=agent,
            before={"status": ReviewStatus.OPEN},
            after={"status": ReviewStatus.CANCELLED, "reason": reason},
        )
    return cancelled


def close_condition(condition: ReviewCondition, *, actor, note: str) -> ReviewCondition:
    """Close a condition of an approval once it is met. The board verifies and closes it."""
    agent = condition.review.agent
    ensure_independent_board_member(actor, agent, "close this condition")
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say how the condition was met."})
    with transaction.atomic():
        updated = ReviewCondition.objects.filter(pk=condition.pk, status=ConditionStatus.OPEN).update(
            status=ConditionStatus.CLOSED, closed_by=actor, closed_at=timezone.now(), closing_note=note
        )
        if not updated:
            raise Conflict("This condition is already closed.")
        closed = ReviewCondition.objects.get(pk=condition.pk)
        audit.record(
            GovernanceEvent.CONDITION_CLOSED,
            actor=actor,
            target=closed,
            agent=agent,
            before={"status": ConditionStatus.OPEN},
            after={"status": ConditionStatus.CLOSED, "note": note},
        )
    return closed


def deploy_release(release: Release, *, actor, reason: str = "") -> Release:
    """Put an approved release live in its environment, through the release gate.

    For production this is also how a new version reaches an agent already in
    production; an agent not yet in production moves there through the
    lifecycle transition (whose guard runs the same gate).
    """
    agent = release.agent
    ensure_can_maintain(actor, agent, "Only the agent's owner or a delegate may release a version.")
    with transaction.atomic():
        missing = gate.check_release(agent, release.version, release.environment)
        if missing:
            raise ValidationError({"__all__": missing})
        agent.refresh_from_db()
        if release.environment == Environment.PRODUCTION and agent.lifecycle != Lifecycle.PRODUCTION:
            # The transition runs the gate for the newest version: this release's version must be it.
            if gate.release_version_for(agent) != release.version:
                raise ValidationError(
                    {"__all__": [f"Version {release.version.label} is not the agent's newest version."]}
                )
            registry_services.transition_agent(
                agent,
                Lifecycle.PRODUCTION,
                actor=actor,
                reason=reason or f"release {release.version.label} to production",
            )
        return mark_deployed(release, actor=actor)


def mark_deployed(release: Release, *, actor) -> Release:
    """Record that an approved release went live (called inside the gate's transaction)."""
    with transaction.atomic():
        current = Release.objects.select_for_update().get(pk=release.pk)
        if current.deployed_at is not None:
            return current
        current.deployed_at = timezone.now()
        current.deployed_by = actor
        current.save(update_fields=["deployed_at", "deployed_by"])
        audit.record(
            GovernanceEvent.RELEASE_DEPLOYED,
            actor=actor,
            target=current,
            agent=current.agent,
            after={"version": current.version.label, "environment": current.environment},
        )
    return current
