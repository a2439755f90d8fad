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


def governance_actions(request, agent) -> list[dict]:
    return [{"label": "Governance", "url": reverse("governance:agent", args=[agent.key])}]
