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
    from governance.drift import cost_by_agent, current_parameters, forecast
    from governance.drift_charts import agent_charts
    from governance.models import Budget, Finding
    from registry import services as registry_services

    params = current_parameters()
    finding = Finding.objects.open().filter(kind="drift", agent=agent).first()
    now = timezone.now()
    budget = Budget.objects.filter(agent=agent).first()
    costs = cost_by_agent(now, agent_ids=[agent.pk]).get(agent.pk)
    return {
        "title": "Drift and cost",
        "template": "governance/_drift_panel.html",
        "context": {
            "charts": agent_charts(agent, now.date()),
            "finding": finding,
            "finding_url": reverse("governance:finding-detail", args=[finding.pk]) if finding else "",
            "mads": params.mads,
            "recent_days": params.recent_days,
            "baseline_days": params.baseline_days,
            "budget": budget,
            "forecast": forecast(*costs, now) if costs else None,
            "can_set_budget": request.user.is_authenticated and registry_services.can_change_agent(request.user, agent),
            "budget_url": reverse("governance:agent-budget", args=[agent.key]),
        },
        "order": 30,
    }


def governance_actions(request, agent) -> list[dict]:
    return [{"label": "Governance", "url": reverse("governance:agent", args=[agent.key])}]
