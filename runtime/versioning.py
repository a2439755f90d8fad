"""The decision version: bumped in the same transaction as every change that can alter a decision.

Each web worker keeps a snapshot of what decisions need (``runtime.snapshot``) and compares its
version with ``RuntimePolicy.version`` at most every RUNTIME_VERSION_CHECK_SECONDS. Because the bump
commits with the change itself, a worker that reads the new version also reads the new rows.

The bumps hang on ``post_save``/``post_delete`` of the models decisions read, registered here by the
runtime app (an upper layer listening to lower ones), so no service of the lower layers changes.
Queryset ``update()`` calls bypass signals; none of the services updates a decision fact that way,
and the snapshot is rebuilt anyway every RUNTIME_SNAPSHOT_MAX_AGE_SECONDS as a safety net.
"""

from django.apps import apps
from django.db import connection
from django.db.models import F
from django.db.models.signals import post_delete, post_save

# (app_label, model): every table the snapshot reads that a service writes.
VERSIONED_MODELS = (
    ("registry", "Agent"),
    ("registry", "AgentVersion"),
    ("registry", "AgentVersionTool"),
    ("registry", "Tool"),
    ("registry", "McpServer"),
    ("registry", "BusinessUnit"),
    ("telemetry", "IdentityAlias"),
    ("telemetry", "TelemetrySource"),
    ("governance", "Release"),
    ("runtime", "GatewayCredential"),
)


def bump(using: str = "default") -> None:
    """Increment the decision version, inside the caller's transaction when there is one.

    The row lock it takes is held to the end of that transaction: changes that affect decisions
    commit one after the other, which they are rare enough to afford."""
    from runtime.models import POLICY_ROW_ID, RuntimePolicy

    updated = RuntimePolicy.objects.using(using).filter(pk=POLICY_ROW_ID).update(version=F("version") + 1)
    if not updated:
        RuntimePolicy.objects.using(using).get_or_create(pk=POLICY_ROW_ID, defaults={"version": 2})


def bump_stops(using: str = "default") -> None:
    """A stop started or lifted: only the stops need re-reading, which every worker does in milliseconds
    (a full rebuild at 50,000 agents takes over a second)."""
    from runtime.models import POLICY_ROW_ID, RuntimePolicy

    updated = RuntimePolicy.objects.using(using).filter(pk=POLICY_ROW_ID).update(stops_version=F("stops_version") + 1)
    if not updated:
        RuntimePolicy.objects.using(using).get_or_create(pk=POLICY_ROW_ID, defaults={"stops_version": 2})


def current_version() -> tuple[int, int]:
    """One small read: (version, stops version) in the database ((0, 0) when the row does not exist yet)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version, stops_version FROM runtime_runtimepolicy WHERE id = %s", [1])
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (0, 0)


def _on_change(sender, instance=None, using="default", **kwargs):
    if kwargs.get("raw"):
        return
    bump(using)


def _on_stop_change(sender, instance=None, using="default", **kwargs):
    if not kwargs.get("raw"):
        bump_stops(using)


def _on_finding(sender, instance=None, using="default", **kwargs):
    # Only critical findings move a decision (the optional open-critical-finding switch).
    if not kwargs.get("raw") and getattr(instance, "severity", None) == "critical":
        bump(using)


def connect_signals() -> None:
    for app_label, name in VERSIONED_MODELS:
        model = apps.get_model(app_label, name)
        post_save.connect(_on_change, sender=model, dispatch_uid=f"runtime-version-save-{app_label}.{name}")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"runtime-version-delete-{app_label}.{name}")
    stop = apps.get_model("registry", "Stop")
    post_save.connect(_on_stop_change, sender=stop, dispatch_uid="runtime-stops-save")
    post_delete.connect(_on_stop_change, sender=stop, dispatch_uid="runtime-stops-delete")
    finding = apps.get_model("governance", "Finding")
    post_save.connect(_on_finding, sender=finding, dispatch_uid="runtime-version-finding")


def on_stop(stop, event: str, actor) -> None:
    """Registered in registry.hooks.stop_listeners, in the stop's transaction (the save bumped already;
    this keeps it true for a service that would ever write a stop with ``update()``)."""
    bump_stops()


def on_agent_created(agent, actor) -> None:
    """Registered in registry.hooks.agent_created_listeners. One agent's save already bumped the version
    (``post_save``); nothing more to do."""


def on_agents_created_in_bulk(agents, actor) -> None:
    """A bulk import inserts its agents without ``post_save``: bump once for the whole file, so the new
    agents are known to the decision API at the next version check rather than the next full rebuild."""
    bump()


on_agent_created.bulk = on_agents_created_in_bulk
