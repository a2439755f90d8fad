"""Where governance plugs into the telemetry layer's hooks (registered in GovernanceConfig.ready)."""

from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone

from governance.choices import FindingEventKind, FindingKind


def monitoring_windows() -> dict:
    """The silence each tier may keep in production and pilot, from the policy in force.
    Before the policy is loaded (first migrate) the telemetry defaults apply."""
    from governance.models import RiskPolicy

    try:
        cadences = RiskPolicy.objects.current_cadences()
    except DatabaseError:
        return {}
    windows = {}
    for tier, cadence in (cadences or {}).items():
        windows[tier] = {
            "production": timedelta(hours=cadence["silence_production_hours"]),
            "pilot": timedelta(hours=cadence["silence_pilot_hours"]),
        }
    return windows


def on_identity_linked(identity: str, agent) -> None:
    """An identity now belongs to a registered agent: its shadow-agent finding resolves at once."""
    from governance.models import Finding, FindingEvent

    now = timezone.now()
    findings = list(Finding.objects.open().filter(kind=FindingKind.SHADOW_AGENT, identity=identity))
    if not findings:
        return
    Finding.objects.filter(pk__in=[f.pk for f in findings]).update(resolved_at=now)
    FindingEvent.objects.bulk_create(
        [
            FindingEvent(
                finding=f, kind=FindingEventKind.RESOLVED, at=now, note=f"Claimed by the registered agent {agent.key}."
            )
            for f in findings
        ]
    )


def findings_panel(request, agent):
    """The agent page's list of open findings (nothing when there are none)."""
    from governance.models import Finding

    findings = list(Finding.objects.for_user(request.user).open().filter(agent=agent).order_by("kind"))
    if not findings:
        return None
    now = timezone.now()
    for finding in findings:
        finding.state_now = finding.state(now)
    return {
        "title": "Open findings",
        "template": "governance/_findings_panel.html",
        "context": {"findings": findings},
        "order": 5,
    }
