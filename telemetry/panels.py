"""What telemetry adds to the registry's agent page, and its reaction to agent edits."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from registry.services import can_change_agent
from telemetry.models import DailyEvaluation, DailyToolUsage, DailyUsage, IdentityAlias, MonitoringState, Sighting

# The agent page shows the last 30 days of tool calls and evaluation results.
PANEL_DAYS = 30


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


def agent_tools_panel(request, agent):
    """The tools the agent called in the last 30 days, per tool and MCP server (daily tool rollup)."""
    since = (timezone.now() - timedelta(days=PANEL_DAYS)).date()
    tools = list(DailyToolUsage.objects.filter(agent=agent).since(since).per_tool()[:50])
    if not tools:
        return None
    return {
        "title": "Tools called",
        "template": "telemetry/_agent_tools_panel.html",
        "order": 41,
        "context": {"tools": tools, "days": PANEL_DAYS},
    }


def agent_evaluations_panel(request, agent):
    """Evaluation results of the last 30 days per evaluation name: results, mean and lowest score."""
    since = (timezone.now() - timedelta(days=PANEL_DAYS)).date()
    rows = DailyEvaluation.objects.filter(agent=agent).since(since)
    evaluations = list(rows.per_name()[:50])
    if not evaluations:
        return None
    # The latest label per name, from the newest day that has one.
    labels: dict[str, str] = {}
    for name, label in rows.exclude(last_label="").order_by("-last_at").values_list("name", "last_label"):
        labels.setdefault(name, label)
    for e in evaluations:
        e["mean"] = e["score_sum"] / e["scored"] if e["scored"] else None
        e["last_label"] = labels.get(e["name"], "")
    return {
        "title": "Evaluation results",
        "template": "telemetry/_agent_evaluations_panel.html",
        "order": 42,
        "context": {"evaluations": evaluations, "days": PANEL_DAYS},
    }
