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

# (agent, actor) -> None. Called inside the creation's transaction. A bulk import calls a
# listener's ``bulk`` attribute instead, when it has one: (agents, actor) -> None, once for all
# the file's agents; a listener without it is called per agent.
agent_created_listeners: list[Callable] = []

# (request, agent) -> dict | None. Upper layers add panels to the agent page:
# {"title": str, "template": str, "context": dict, "order": int}.
agent_detail_panels: list[Callable] = []

# (request, agent) -> list of {"label": str, "url": str}. Extra action links on the agent page.
agent_detail_actions: list[Callable] = []

# (user, agent_ids: list[int], actor) -> None. Called inside the deprovisioning's transaction after the
# account is deactivated, so upper layers (governance's orphaned_owner check) act in the same request.
owner_deprovisioned_listeners: list[Callable] = []

# (agent, actor) -> None. Called inside ``retire_agent``'s transaction after the agent is retired and its
# delegations revoked: upper layers end what still runs for it (the control plane's decisions).
agent_retired_listeners: list[Callable] = []
# (server, event: "scanned" | "approved") -> None. Called inside the transaction that recorded a scan of
# an MCP server that found a difference in its tools, or the board's approval of it (governance raises
# or resolves mcp_tool_changed).
mcp_server_listeners: list[Callable] = []
# "app_label.model" -> (user) -> QuerySet | None. An audit entry describes one object (its
# target_type and target_id); it is shown only to whoever may see that object. Layers whose
# objects are narrower than "whoever sees the agent" (evidence) register a callable that returns
# the objects of that kind the user may view, or None when the user sees all of them that belong to
# agents they see. ``AuditEventQuerySet.for_user`` applies every entry, so the agent page's
# history, its API and every other read of the trail answer alike.
audit_target_scopes: dict[str, Callable] = {}

# (order, (user) -> url | None). Where a person lands after signing in: the first page an upper
# layer claims for their role, lowest order first (administrators' overview, the board's queue,
# leadership's portfolio); nobody claimed means the owner's desk, "My agents".
landing_pages: list[tuple[int, Callable]] = []

# event type -> label, for audit event types of upper layers (the history page's kind filter).
audit_event_labels: dict[str, str] = {}
# (stop, event: "started" | "lifted", actor) -> None. Called inside the stop's transaction, after
# it is saved and audited (the runtime snapshot's version, the agent.stopped webhook).
stop_listeners: list[Callable] = []
