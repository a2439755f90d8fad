"""What telemetry adds to the registry's agent page, and its reaction to agent edits."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from registry.services import can_change_agent
from telemetry.models import DailyUsage, IdentityAlias, MonitoringState, Sighting


def on_agent_changed(agent, before: dict, after: dict, actor) -> None:
    """A changed key (allowed only before telemetry saw it) may now match sightings."""
    if "key" in after:
        from telemetry.services import _claim_sightings

        _claim_sightings(Q(identity=agent.key), agent)


def agent_telemetry_panel(request, agent):
    now = timezone.now()
    state = MonitoringState.objects.filter(agent=agent).select_related("last_source").first()
    since = (now - timedelta(days=30)).date()
    usage = DailyUsage.objects.filter(agent=agent, day__gte=since).totals()
    return {
        "title": "Runtime telemetry",
        "template": "telemetry/_agent_panel.html",
        "order": 40,
        "context": {
            "state": state,
            "status": (state or MonitoringState(agent=agent)).status(now, agent.lifecycle),
            "sightings": Sighting.objects.filter(agent=agent).select_related("source")[:10],
            "aliases": IdentityAlias.objects.filter(agent=agent),
            "usage": usage,
            "can_change": can_change_agent(request.user, agent),
        },
    }
