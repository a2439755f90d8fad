"""Extension points the registry owns and upper layers register with at start-up.

The registry sits at the bottom of the app layers and never imports
governance or portfolio. Where it must consult them (the release gate before
production, marking a risk assessment stale when a risk fact changes), they
append a callable here from their ``AppConfig.ready()``.
"""

from collections.abc import Callable

# (agent, target_state, actor) -> list of human-readable reasons to refuse.
# Called inside the transition's transaction, before anything is written.
transition_guards: list[Callable] = []

# (agent, from_state, to_state, actor) -> None. Called inside the same
# transaction after the transition is saved and audited.
transition_listeners: list[Callable] = []

# (agent, before: dict, after: dict, actor) -> None. Called inside the update's
# transaction with only the fields that changed.
agent_change_listeners: list[Callable] = []

# (agent, before_tier, after_tier) -> None. Called inside the transaction that copies the
# governance layer's tier onto the agent.
risk_tier_listeners: list[Callable] = []

# (agent, actor) -> None. Called inside the creation's transaction.
agent_created_listeners: list[Callable] = []

# (request, agent) -> dict | None. Upper layers add panels to the agent page:
# {"title": str, "template": str, "context": dict, "order": int}.
agent_detail_panels: list[Callable] = []

# (request, agent) -> list of {"label": str, "url": str}. Extra action links on the agent page.
agent_detail_actions: list[Callable] = []

# (stop, event: "started" | "lifted", actor) -> None. Called inside the stop's transaction, after
# it is saved and audited (the runtime snapshot's version, the agent.stopped webhook).
stop_listeners: list[Callable] = []
