"""Attestation campaigns and dormant agents: every write of keeping ownership true over time."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import CharField, F, IntegerField, JSONField, Q, Value
from django.utils import timezone

from governance.choices import (
    AttestationAnswer,
    AttestationItem,
    ContinuityEvent,
    Enforcement,
    FindingKind,
)
from governance.models import Attestation, AttestationCampaign, AttestationReminder, DormancyKeep
from governance.services._common import ensure, ensure_can_maintain
from registry import audit
from registry import services as registry_services
from registry.choices import RUNNING_STATES, Lifecycle, Pattern, RiskTier
from registry.mail import send_after_commit
from registry.models import Agent
from registry.roles import is_board

# The facts each confirmable item stands for, copied into an answer's snapshot.
ITEM_FIELDS = {
    AttestationItem.OWNER: ("owner_id",),
    AttestationItem.PURPOSE: ("objective", "allowed_actions", "forbidden_actions"),
    AttestationItem.TOOLS: ("tools",),
    AttestationItem.DATA: ("data_classification", "handles_personal_data", "handles_regulated_data"),
    AttestationItem.AUTONOMY: ("autonomy_level", "mode"),
    AttestationItem.STILL_NEEDED: ("lifecycle",),
}


def _ensure_board(actor, what: str) -> None:
    ensure(actor is not None and actor.is_active and is_board(actor), f"Only the governance board may {what}.")


def campaign_scope(*, units=(), tiers=(), patterns=(), lifecycles=()):
    """The agents a campaign with this scope covers (retired agents never)."""
    agents = Agent.objects.exclude(lifecycle=Lifecycle.RETIRED)
    if units:
        paths = Q()
        for unit in units:
            paths |= Q(business_unit__path__startswith=unit.path)
        agents = agents.filter(paths)
    if tiers:
        agents = agents.filter(risk_tier__in=tiers)
    if patterns:
        agents = agents.filter(pattern__in=patterns)
    if lifecycles:
        agents = agents.filter(lifecycle__in=lifecycles)
    return agents


def _validate_choices(field: str, values, allowed) -> list[str]:
    values = list(values or [])
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValidationError({field: f"Unknown: {', '.join(map(str, bad))}."})
    return values


def open_campaign(
    *,
    actor,
    name: str,
    deadline: datetime,
    units=(),
    tiers=(),
    patterns=(),
    lifecycles=(),
    items=None,
    reminder_days=(7, 1),
    grace_days: int = 14,
    enforcement: str = Enforcement.FINDING,
) -> AttestationCampaign:
    """Open a campaign: one row per agent in scope, with its owner now, in a constant number of queries
    (one INSERT … SELECT, whatever the number of agents)."""
    _ensure_board(actor, "open attestation campaigns")
    now = timezone.now()
    tiers = _validate_choices("scope_tiers", tiers, RiskTier.values)
    patterns = _validate_choices("scope_patterns", patterns, Pattern.values)
    lifecycles = _validate_choices("scope_lifecycles", lifecycles, [s for s in Lifecycle.values if s != "retired"])
    items = _validate_choices("items", items if items is not None else AttestationItem.values, AttestationItem.values)
    if not items:
        raise ValidationError({"items": "Choose at least one fact to confirm."})
    try:
        reminder_days = sorted({int(d) for d in reminder_days}, reverse=True)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"reminder_days": "Give whole numbers of days, such as 7, 1."}) from exc
    if any(d < 1 or d > 90 for d in reminder_days):
        raise ValidationError({"reminder_days": "Reminders go out 1 to 90 days before the deadline."})
    if deadline is None or deadline <= now:
        raise ValidationError({"deadline": "The deadline must be in the future."})
    units = list(units or [])
    with transaction.atomic():
        campaign = AttestationCampaign(
            name=(name or "").strip(),
            scope_tiers=tiers,
            scope_patterns=patterns,
            scope_lifecycles=lifecycles,
            items=items,
            opened_at=now,
            deadline=deadline,
            reminder_days=reminder_days,
            grace_days=grace_days,
            enforcement=enforcement,
            created_by=actor,
        )
        campaign.full_clean()
        campaign.save()
        if units:
            campaign.scope_units.set(units)
        scope = campaign_scope(units=units, tiers=tiers, patterns=patterns, lifecycles=lifecycles)
        count = _insert_attestations(campaign, scope)
        audit.record(
            ContinuityEvent.CAMPAIGN_OPENED,
            actor=actor,
            target=campaign,
            after={
                "name": campaign.name,
                "units": [u.slug for u in units],
                "tiers": tiers,
                "patterns": patterns,
                "lifecycles": lifecycles,
                "items": items,
                "deadline": deadline,
                "reminder_days": reminder_days,
                "grace_days": grace_days,
                "enforcement": enforcement,
                "agents": count,
            },
        )
    return campaign


def _insert_attestations(campaign: AttestationCampaign, scope) -> int:
    """INSERT INTO attestation … SELECT from the scope query: the rows never pass through Python."""
    rows = scope.order_by().values_list(
        Value(campaign.pk, output_field=IntegerField()),
        "pk",
        "owner_id",
        "business_unit_id",
        Value(AttestationAnswer.PENDING, output_field=CharField()),
        Value({}, output_field=JSONField()),
    )
    select_sql, params = rows.query.sql_with_params()
    table = Attestation._meta.db_table
    insert = (
        f'INSERT INTO "{table}" ("campaign_id", "agent_id", "owner_id", "unit_id", "answer", "snapshot") {select_sql}'
    )
    with connection.cursor() as cursor:
        cursor.execute(insert, params)
        return cursor.rowcount


def _snapshots(agent_ids: list[int], items: list[str]) -> dict[int, dict]:
    """The attested facts of each agent, read in two queries (the agents, then their latest tool grants)."""
    from registry.models import AgentVersionTool

    fields = sorted({f for item in items for f in ITEM_FIELDS.get(item, ()) if f != "tools"})
    facts = {row["pk"]: row for row in Agent.objects.filter(pk__in=agent_ids).values("pk", "name", *fields)}
    if AttestationItem.TOOLS in items:
        tools: dict[int, list[str]] = {pk: [] for pk in agent_ids}
        latest = {}
        for version_id, agent_id in (
            Agent.objects.filter(pk__in=agent_ids)
            .annotate(latest=F("versions__pk"))
            .order_by("pk", "-versions__created_at", "-versions__pk")
            .values_list("latest", "pk")
        ):
            latest.setdefault(agent_id, version_id)
        agent_of_version = {v: a for a, v in latest.items() if v}
        for version_id, key, access in AgentVersionTool.objects.filter(
            version_id__in=list(agent_of_version)
        ).values_list("version_id", "tool__key", "access"):
            tools[agent_of_version[version_id]].append(f"{key}:{access}")
        for agent_id, granted in tools.items():
            if agent_id in facts:
                facts[agent_id]["tools"] = sorted(granted)
    for row in facts.values():
        row.pop("pk", None)
    return {pk: audit.to_json_value(row) for pk, row in facts.items()}


def answer_attestations(attestations, answer: str, *, actor) -> int:
    """An owner (or delegate, or administrator) answers for one or many agents at once: each row keeps a
    snapshot of the facts attested, and the trail one entry per agent. "retire" retires the agent too."""
    if answer not in (AttestationAnswer.UNCHANGED, AttestationAnswer.CHANGED, AttestationAnswer.RETIRE):
        raise ValidationError({"answer": "Answer unchanged, changed or retire."})
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Attestation.objects.select_for_update(of=("self",))
            .select_related("agent", "campaign")
            .filter(pk__in=[a.pk for a in attestations], answer=AttestationAnswer.PENDING)
            .order_by("pk")
        )
        for row in rows:
            if row.owner_id != actor.pk:
                ensure_can_maintain(actor, row.agent, f"You may not answer for {row.agent.name}.")
        items = sorted({item for row in rows for item in row.campaign.items})
        snapshots = _snapshots([row.agent_id for row in rows], items)
        for row in rows:
            row.answer = answer
            row.answered_at = now
            row.answered_by = actor
            row.snapshot = snapshots.get(row.agent_id, {})
        Attestation.objects.bulk_update(rows, ["answer", "answered_at", "answered_by", "snapshot"])
        audit.record_many(
            [
                audit.Entry(
                    ContinuityEvent.ATTESTATION_ANSWERED,
                    target=row.agent,
                    after={"campaign": row.campaign_id, "campaign_name": row.campaign.name, "answer": answer},
                )
                for row in rows
            ],
            actor=actor,
        )
        if answer == AttestationAnswer.RETIRE:
            for row in rows:
                registry_services.retire_agent(
                    row.agent, actor=actor, reason=f"Retired by its owner in the campaign {row.campaign.name}."
                )
    return len(rows)


def send_campaign_reminders(now: datetime | None = None) -> int:
    """E-mail the owners who have not answered, at each reminder offset, once each (the reminder row's
    unique constraint makes a second run, or a concurrent one, send nothing)."""
    now = now or timezone.now()
    sent = 0
    campaigns = AttestationCampaign.objects.filter(opened_at__lte=now, deadline__gt=now)
    for campaign in campaigns:
        due = [d for d in campaign.reminder_days if campaign.deadline - timedelta(days=d) <= now]
        if not due:
            continue
        # Only the latest offset reached: an owner who missed the 7-day window is not sent two at once.
        offset = min(due)
        with transaction.atomic():
            # Two runs at once (a beat tick overlapping a slow one) take turns on the campaign, so the
            # second reads the first's reminders as sent and mails nobody twice.
            AttestationCampaign.objects.select_for_update().get(pk=campaign.pk)
            owners = set(
                Attestation.objects.filter(campaign=campaign, answer=AttestationAnswer.PENDING).values_list(
                    "owner_id", flat=True
                )
            )
            already = set(
                AttestationReminder.objects.filter(campaign=campaign, days_before=offset).values_list(
                    "owner_id", flat=True
                )
            )
            owners -= already
            if not owners:
                continue
            created = AttestationReminder.objects.bulk_create(
                [AttestationReminder(campaign=campaign, owner_id=o, days_before=offset, sent_at=now) for o in owners],
                ignore_conflicts=True,
            )
            recipients = list(
                registry_services.User.objects.filter(pk__in=owners, is_active=True)
                .exclude(email="")
                .values_list("email", flat=True)
            )
            audit.record(
                ContinuityEvent.CAMPAIGN_REMINDED,
                actor=None,
                target=campaign,
                after={"days_before": offset, "owners": sorted(owners)},
            )
            transaction.on_commit(lambda c=campaign, r=recipients: _mail_reminders(c, r))
            sent += len(created)
    return sent


def _mail_reminders(campaign: AttestationCampaign, recipients: list[str]) -> None:
    for email in recipients:
        send_after_commit(
            f"Please confirm your agents: {campaign.name}",
            f"The attestation campaign {campaign.name} closes on {campaign.deadline:%d %b %Y}. Confirm your agents "
            f"at {settings.SITE_URL}/governance/attestations/.",
            email,
        )


def stop_agent(agent: Agent, *, reason: str) -> bool:
    """Stop an agent for governance reasons with the stop switch: every runtime decision for it is refused
    from now on, its lifecycle and history untouched, and lifting the stop (board or administrator)
    restores exactly what was there. Only running agents (pilot or production) are stopped."""
    if agent.lifecycle not in RUNNING_STATES:
        return False
    return registry_services.stop_agent_by_policy(agent, reason=reason) is not None


def enforce_overdue_attestations(now: datetime | None = None) -> int:
    """Apply each campaign's enforcement, once, to the rows still unanswered after the grace period.
    The ``attestation_overdue`` finding itself is raised by the check of that kind; "stop" also stops
    the agent. Every enforcement is audited."""
    now = now or timezone.now()
    enforced = 0
    campaigns = [c for c in AttestationCampaign.objects.filter(deadline__lt=now) if c.enforce_after() <= now]
    for campaign in campaigns:
        with transaction.atomic():
            rows = list(
                Attestation.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("agent")
                .filter(campaign=campaign, answer=AttestationAnswer.PENDING, enforced_at__isnull=True)
                .order_by("pk")
            )
            if not rows:
                continue
            Attestation.objects.filter(pk__in=[r.pk for r in rows]).update(enforced_at=now)
            stopped = []
            if campaign.enforcement == Enforcement.STOP:
                for row in rows:
                    if stop_agent(row.agent, reason=f"Its owner did not answer the campaign {campaign.name}."):
                        stopped.append(row.agent.key)
            audit.record_many(
                [
                    audit.Entry(
                        ContinuityEvent.ATTESTATION_ENFORCED,
                        target=row.agent,
                        after={
                            "campaign": campaign.pk,
                            "campaign_name": campaign.name,
                            "enforcement": campaign.enforcement,
                            "stopped": row.agent.key in stopped,
                        },
                    )
                    for row in rows
                ],
                actor=None,
            )
            enforced += len(rows)
    if enforced:
        from governance import checks

        checks.run_check(FindingKind.ATTESTATION_OVERDUE, now=now)
    return enforced


# --- Dormant agents ---------------------------------------------------------------------------------


def keep_dormant_agent(agent: Agent, *, actor, reason: str, now: datetime | None = None) -> DormancyKeep:
    """The owner keeps a silent agent on purpose, with a reason: no dormant finding for one more window."""
    from governance import checks

    ensure_can_maintain(actor, agent, "Only the owner, a delegate or an administrator may keep this agent.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the agent should be kept although it is silent."})
    now = now or timezone.now()
    with transaction.atomic():
        keep = DormancyKeep(
            agent=agent,
            reason=reason,
            kept_by=actor,
            kept_at=now,
            kept_until=now + checks.dormant_window(agent.risk_tier),
        )
        keep.full_clean()
        keep.save()
        audit.record(
            ContinuityEvent.DORMANT_KEPT,
            actor=actor,
            target=agent,
            after={"reason": reason, "kept_until": keep.kept_until},
        )
        checks.reconcile_now(FindingKind.DORMANT_AGENT, now=now)
    return keep


def retire_dormant_agent(agent: Agent, *, actor, now: datetime | None = None) -> Agent:
    """One click: retire the silent agent (its delegations go, its history stays); the finding resolves."""
    from governance import checks

    with transaction.atomic():
        agent = registry_services.retire_agent(
            agent, actor=actor, reason="Retired after no telemetry for longer than its tier allows."
        )
        checks.reconcile_now(FindingKind.DORMANT_AGENT, now=now)
    return agent


__all__ = [
    "answer_attestations",
    "campaign_scope",
    "enforce_overdue_attestations",
    "keep_dormant_agent",
    "open_campaign",
    "retire_dormant_agent",
    "send_campaign_reminders",
    "stop_agent",
]
