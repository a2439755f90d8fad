"""The compliance panel and action links governance adds to the registry's agent page."""

from django.urls import reverse
from django.utils import timezone

from governance import compliance


def compliance_panel(request, agent) -> dict:
    now = timezone.now()
    statuses = compliance.checklist(agent, now)
    return {
        "title": "Compliance",
        "template": "governance/_compliance_panel.html",
        "context": {
            "agent": agent,
            "statuses": statuses,
            "summary": compliance.summary(statuses),
            "assessment": compliance.current_assessment(agent),
            "pending_assessment": compliance.pending_assessment(agent),
            "governance_url": reverse("governance:agent", args=[agent.key]),
        },
        "order": 10,
    }


def drift_panel(request, agent) -> dict:
    """Drift: a chart per watched metric, 90 days, the band and the days outside it."""
    from governance.drift import current_parameters
    from governance.drift_charts import agent_charts
    from governance.models import Finding

    params = current_parameters()
    finding = Finding.objects.open().filter(kind="drift", agent=agent).first()
    return {
        "title": "Drift",
        "template": "governance/_drift_panel.html",
        "context": {
            "charts": agent_charts(agent, timezone.now().date()),
            "finding": finding,
            "finding_url": reverse("governance:finding-detail", args=[finding.pk]) if finding else "",
            "mads": params.mads,
            "recent_days": params.recent_days,
            "baseline_days": params.baseline_days,
        },
        "order": 30,
    }


def governance_actions(request, agent) -> list[dict]:
    return [{"label": "Governance", "url": reverse("governance:agent", args=[agent.key])}]
