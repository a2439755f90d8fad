"""A second source for the ``ungranted_tool_use`` finding: agents the decision API keeps refusing.

An agent refused again and again for tools it is not granted (``tool_not_granted``,
``access_exceeded``) or for actions a person must approve (``approval_required``) is trying to do
what its registration does not allow: its owner should either register the grant or change the
agent. Registered through ``governance.hooks.check_providers``. The telemetry check for the same kind
(tool calls seen in traces) stays the first source: when it exists and answers per agent, both are
merged, its entries winning for an agent both flag.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Sum

from runtime.choices import ReasonCode
from runtime.models import DenialRecord

KIND = "ungranted_tool_use"
REASONS = (ReasonCode.TOOL_NOT_GRANTED, ReasonCode.ACCESS_EXCEEDED, ReasonCode.APPROVAL_REQUIRED)


def repeated_denials(now) -> dict:
    """(agent) -> Wanted for agents refused at least RUNTIME_FINDING_MIN_DENIALS times for those reasons
    within RUNTIME_FINDING_WINDOW_HOURS."""
    from governance.checks import Wanted

    since = now - timedelta(hours=settings.RUNTIME_FINDING_WINDOW_HOURS)
    rows = (
        DenialRecord.objects.filter(minute__gte=since, reason__in=REASONS, agent__isnull=False)
        .order_by()
        .values("agent_id", "reason", "resource")
        .annotate(total=Sum("count"))
    )
    per_agent: dict[int, dict] = {}
    for row in rows:
        entry = per_agent.setdefault(row["agent_id"], {"total": 0, "reasons": {}, "resources": set()})
        entry["total"] += row["total"]
        entry["reasons"][row["reason"]] = entry["reasons"].get(row["reason"], 0) + row["total"]
        if row["resource"]:
            entry["resources"].add(row["resource"])
    wanted = {}
    for agent_id, entry in per_agent.items():
        if entry["total"] < settings.RUNTIME_FINDING_MIN_DENIALS:
            continue
        parts = ", ".join(
            f"{count} × {ReasonCode(reason).label.lower()}" for reason, count in sorted(entry["reasons"].items())
        )
        wanted[("agent", agent_id)] = Wanted(
            severity="high",
            summary=(
                f"The decision API refused it {entry['total']} times in "
                f"{settings.RUNTIME_FINDING_WINDOW_HOURS} h: {parts}."
            ),
            details={
                "source": "decision_api",
                "reasons": entry["reasons"],
                "resources": sorted(entry["resources"])[:20],
            },
        )
    return wanted


def ungranted_tool_use(now):
    """The check registered for the kind: the runtime's refusals, merged with the telemetry check's
    findings when that check exists and answers per agent (a dict)."""
    from governance import checks

    mine = repeated_denials(now)
    other = checks.CHECKS.get(KIND)
    if other is None:
        return mine
    theirs = other(now)
    if isinstance(theirs, dict):
        return {**mine, **theirs}
    # A check answering in SQL cannot be merged subject by subject: it stands alone.
    return theirs
