"""Extension points the telemetry layer owns; upper layers register with them at start-up.

Telemetry sits above the registry and below governance. The monitoring windows
(how long an agent may stay silent) are governance policy data, so governance
appends a provider here from its ``AppConfig.ready()``; until it does, the
default table of the domain reference applies.
"""

from collections.abc import Callable
from datetime import timedelta

# Silence allowed per risk tier and lifecycle (domain reference, default policy v1).
DEFAULT_MONITORING_WINDOWS: dict[str, dict[str, timedelta]] = {
    "low": {"production": timedelta(days=7), "pilot": timedelta(days=14)},
    "medium": {"production": timedelta(hours=72), "pilot": timedelta(days=6)},
    "high": {"production": timedelta(hours=24), "pilot": timedelta(hours=48)},
    "critical": {"production": timedelta(hours=1), "pilot": timedelta(hours=2)},
}

# () -> {tier: {lifecycle: timedelta}}. The last registered provider wins; each
# may return only the tiers it knows, the rest fall back to the defaults.
monitoring_window_provider: list[Callable[[], dict[str, dict[str, timedelta]]]] = []

# (identity: str, agent) -> None. Called inside the transaction that links an
# unknown identity to a registered agent (alias added, agent registered), so
# upper layers can resolve what they raised about that identity.
identity_linked_listeners: list[Callable] = []


def monitoring_windows() -> dict[str, dict[str, timedelta]]:
    """The windows in force: the registered provider's answer over the defaults."""
    windows = {tier: dict(by_state) for tier, by_state in DEFAULT_MONITORING_WINDOWS.items()}
    if monitoring_window_provider:
        for tier, by_state in (monitoring_window_provider[-1]() or {}).items():
            windows.setdefault(tier, {}).update(by_state)
    return windows


# Agents not yet assessed are watched as medium risk: strict enough to notice a
# silent agent within days, without the hourly alarms of the critical tier.
UNASSESSED_TIER = "medium"


def monitoring_window(tier: str, lifecycle: str) -> timedelta | None:
    """Silence allowed for one agent, or None where its lifecycle is not watched."""
    return monitoring_windows().get(tier or UNASSESSED_TIER, {}).get(lifecycle)
