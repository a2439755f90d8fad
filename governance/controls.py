"""System-verified controls: evaluated from data, never from uploads.

Each returns True (satisfied), False (failing) or None (cannot tell yet, e.g.
nothing has reported). The release gate treats only True as covered.
"""

from governance.policy import monitoring_window


def owner_satisfied(agent, now) -> bool:
    """``owner``: the agent's owner is one named, active person."""
    owner = agent.owner
    return bool(owner.is_active and owner.is_person)


def monitoring_satisfied(agent, now) -> bool | None:
    """``monitoring``: telemetry for this agent arrived within its tier's window.

    Contract for the telemetry layer (which completes this function): return
    True when the agent's most recent report (any source) in its running
    environment is younger than ``monitoring_window(tier, lifecycle)``, False
    when it is older, and None when it has never reported or telemetry is not
    installed. For agents that are not running (no window) the monitoring plan
    cannot be checked yet: None.
    """
    window = monitoring_window(agent.risk_tier, agent.lifecycle)
    if window is None:
        return None
    last_seen = last_telemetry_at(agent)
    if last_seen is None:
        return None
    return now - last_seen <= window


def last_telemetry_at(agent):
    """When telemetry last reported this agent (any source, any environment), or None if never."""
    from telemetry.models import MonitoringState

    return MonitoringState.objects.filter(agent=agent).values_list("last_seen_at", flat=True).first()


SYSTEM_CONTROLS = {
    "owner": owner_satisfied,
    "monitoring": monitoring_satisfied,
}
