"""Everything a decision needs, read once into plain Python structures and kept per worker.

The snapshot is rebuilt only when ``RuntimePolicy.version`` moves (see ``runtime.versioning``),
checked at most every RUNTIME_VERSION_CHECK_SECONDS with one one-row query; when only
``stops_version`` moved, only the stops are re-read (one small query). Between checks a decision
reads no database at all. A stop therefore reaches every worker within that interval plus a few
milliseconds, whatever the size of the portfolio.

The build reads raw rows, never model instances: at 50,000 agents the time goes to the rows
themselves, not to Django.
"""

import copy
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from registry.choices import Environment, Lifecycle, StopScope, widest_access

logger = logging.getLogger(__name__)

ENVIRONMENTS = tuple(Environment.values)


@dataclass(slots=True)
class AgentFacts:
    id: int
    key: str
    name: str
    lifecycle: str
    pattern: str
    unit_id: int
    autonomy: int
    threshold: float | None
    risk_tier: str
    units: tuple = ()  # the unit and every unit above it
    prod_released: bool = False
    monitoring_deadline: datetime | None = None


@dataclass(slots=True)
class ToolFacts:
    id: int
    key: str
    name: str
    server_id: int | None
    mcp_name: str
    max_access: str


@dataclass
class Snapshot:
    version: int
    built_at: float
    stops_version: int = 0
    agents: dict = field(default_factory=dict)  # id -> AgentFacts
    identities: dict = field(default_factory=dict)  # key or alias -> agent id
    tools: dict = field(default_factory=dict)  # id -> ToolFacts
    tool_names: dict = field(default_factory=dict)  # key, and unambiguous names -> tool id
    servers: dict = field(default_factory=dict)  # id -> key
    server_names: dict = field(default_factory=dict)  # key, host, name -> server id
    mcp_tools: dict = field(default_factory=dict)  # (server id, mcp name) -> tool id
    env_versions: dict = field(default_factory=dict)  # (agent id, environment) -> version id in force
    version_labels: dict = field(default_factory=dict)  # version id -> label (versions in force only)
    version_grants: dict = field(default_factory=dict)  # version id -> {tool id: access}
    units: dict = field(default_factory=dict)  # id -> slug
    unit_parents: dict = field(default_factory=dict)  # id -> parent id or None
    stops: dict = field(default_factory=dict)  # (scope, target id or pattern) -> (stop id, reason)
    critical_findings: frozenset = frozenset()
    deny_open_critical_finding: bool = False
    deny_monitoring_lapsed: bool = False
    credentials: dict = field(default_factory=dict)  # digest -> (id, source id, name)

    @property
    def policy_version(self) -> str:
        """What answers and exports were decided from: "<version>.<stops version>"."""
        return f"{self.version}.{self.stops_version}"

    def grants_for(self, agent_id: int, environment: str) -> dict:
        """{tool id: access} of the version in force for the agent in the environment (empty: none)."""
        vid = self.env_versions.get((agent_id, environment))
        return self.version_grants.get(vid, {}) if vid is not None else {}

    def version_label(self, agent_id: int, environment: str) -> str | None:
        vid = self.env_versions.get((agent_id, environment))
        return self.version_labels.get(vid) if vid is not None else None


def _ancestors(path: str, unit_by_path: dict) -> tuple:
    parts = [p for p in path.strip("/").split("/") if p]
    chain = []
    for i in range(len(parts)):
        unit_id = unit_by_path.get("/" + "/".join(parts[: i + 1]) + "/")
        if unit_id is not None:
            chain.append(unit_id)
    return tuple(chain)


def load_stops(snap: Snapshot) -> None:
    """(Re)read the stops in force into ``snap.stops``: one small query."""
    from registry.models import Stop

    stops = {}
    for sid, scope, agent_id, unit_id, pattern, tool_id, server_id, reason in (
        Stop.objects.in_force()
        .order_by()
        .values_list("id", "scope", "agent_id", "business_unit_id", "pattern", "tool_id", "mcp_server_id", "reason")
    ):
        target = {
            StopScope.AGENT: agent_id,
            StopScope.BUSINESS_UNIT: unit_id,
            StopScope.PATTERN: pattern,
            StopScope.TOOL: tool_id,
            StopScope.MCP_SERVER: server_id,
        }[scope]
        stops[(scope, target)] = (sid, reason)
    snap.stops = stops


def with_stops(snap: Snapshot, stops_version: int) -> Snapshot:
    """A copy of the snapshot sharing everything but its stops, re-read (the rest did not change)."""
    fresh = copy.copy(snap)
    fresh.stops_version = stops_version
    load_stops(fresh)
    return fresh


def build(version: tuple[int, int] | None = None) -> Snapshot:
    """Read every row decisions need. ``version`` is read first, so a change committed during the
    build leaves the snapshot marked older than it is, and the next check rebuilds it."""
    from governance.models import Finding
    from registry.models import BusinessUnit, McpServer, Tool
    from runtime.models import GatewayCredential, RuntimePolicy
    from runtime.versioning import current_version
    from telemetry.models import IdentityAlias, MonitoringState

    if version is None:
        version = current_version()
    snap = Snapshot(version=version[0], stops_version=version[1], built_at=time.monotonic())
    policy = RuntimePolicy.objects.filter(pk=1).values_list("deny_open_critical_finding", "deny_monitoring_lapsed")
    for critical, lapsed in policy:
        snap.deny_open_critical_finding, snap.deny_monitoring_lapsed = critical, lapsed

    unit_by_path = {}
    for unit_id, slug, path in BusinessUnit.objects.order_by().values_list("id", "slug", "path"):
        snap.units[unit_id] = slug
        unit_by_path[path] = unit_id
    unit_chain = {uid: None for uid in snap.units}
    paths = {uid: p for p, uid in unit_by_path.items()}
    for uid in unit_chain:
        unit_chain[uid] = _ancestors(paths[uid], unit_by_path)
        snap.unit_parents[uid] = unit_chain[uid][-2] if len(unit_chain[uid]) > 1 else None

    agents = snap.agents
    identities = snap.identities
    # Raw rows for the three big tables: Django's per-row conversions would double the build time.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, key, name, lifecycle, pattern, business_unit_id, autonomy_level, approval_threshold,"
            " risk_tier FROM registry_agent"
        )
        for aid, key, name, lifecycle, pattern, unit_id, autonomy, threshold, tier in cursor.fetchall():
            agents[aid] = AgentFacts(
                aid,
                key,
                name,
                lifecycle,
                pattern,
                unit_id,
                autonomy,
                None if threshold is None else float(threshold),
                tier,
                unit_chain.get(unit_id, ()),
            )
            identities[key] = aid
    # Aliases win over keys, as telemetry resolves them.
    for identity, aid in IdentityAlias.objects.order_by().values_list("identity", "agent_id"):
        identities[identity] = aid

    for sid, key, host, name in McpServer.objects.order_by().values_list("id", "key", "host", "name"):
        snap.servers[sid] = key
        for label in (name.lower(), host.lower(), key):
            if label:
                snap.server_names[label] = sid
    name_count: dict[str, int] = {}
    for tid, key, name, server_id, mcp_name, write, execute in Tool.objects.order_by().values_list(
        "id", "key", "name", "mcp_server_id", "mcp_name", "supports_write", "supports_execute"
    ):
        access = widest_access(write, execute)
        snap.tools[tid] = ToolFacts(tid, key, name, server_id, mcp_name, str(access))
        name_count[name.lower()] = name_count.get(name.lower(), 0) + 1
        if server_id and mcp_name:
            snap.mcp_tools[(server_id, mcp_name)] = tid
    for tid, tool in snap.tools.items():
        if name_count[tool.name.lower()] == 1:
            snap.tool_names.setdefault(tool.name.lower(), tid)
    for tid, tool in snap.tools.items():
        snap.tool_names[tool.key] = tid  # keys win over names

    # The version in force per environment: production and staging take the newest release there
    # (deployed first, then approved); staging and development fall back to the newest version.
    env_versions = snap.env_versions
    labels = snap.version_labels
    with connection.cursor() as cursor:
        # Newest first per agent (the version_agent_recent_idx order): the first row of each agent wins.
        cursor.execute(
            "SELECT agent_id, id, label FROM registry_agentversion ORDER BY agent_id, created_at DESC, id DESC"
        )
        previous = None
        for aid, vid, label in cursor.fetchall():
            if aid != previous:
                previous = aid
                labels[vid] = label
                env_versions[(aid, Environment.DEVELOPMENT)] = vid
                env_versions[(aid, Environment.STAGING)] = vid
        cursor.execute(
            "SELECT r.agent_id, r.version_id, v.label, r.environment, r.approved_at, r.deployed_at"
            " FROM governance_release r JOIN registry_agentversion v ON v.id = r.version_id"
        )
        release_rank: dict[tuple, tuple] = {}
        for aid, vid, label, env, approved, deployed in cursor.fetchall():
            rank = (deployed is not None, deployed or approved, approved)
            if (aid, env) not in release_rank or rank > release_rank[(aid, env)]:
                release_rank[(aid, env)] = rank
                env_versions[(aid, env)] = vid
                labels[vid] = label
            if env == Environment.PRODUCTION and aid in agents:
                agents[aid].prod_released = True
        version_grants = snap.version_grants
        for vid in labels:
            version_grants[vid] = {}
        cursor.execute("SELECT version_id, tool_id, access FROM registry_agentversiontool")
        for vid, tid, access in cursor.fetchall():
            grants = version_grants.get(vid)
            if grants is not None:
                grants[tid] = access

    load_stops(snap)

    if snap.deny_open_critical_finding:
        snap.critical_findings = frozenset(
            Finding.objects.filter(
                severity="critical", resolved_at__isnull=True, waived_at__isnull=True, agent__isnull=False
            )
            .order_by()
            .values_list("agent_id", flat=True)
        )
    if snap.deny_monitoring_lapsed:
        for aid, deadline in MonitoringState.objects.order_by().values_list("agent_id", "deadline_at"):
            if aid in agents:
                agents[aid].monitoring_deadline = deadline

    for cid, digest, source_id, name in (
        GatewayCredential.objects.usable().order_by().values_list("id", "digest", "source_id", "name")
    ):
        snap.credentials[digest] = (cid, source_id, name)
    return snap


# --- The per-worker copy ---------------------------------------------------------------------------

_lock = threading.Lock()
_state = {"snapshot": None, "checked_at": 0.0, "refreshing": False}


def reset() -> None:
    """Forget the worker's snapshot (tests; a forked worker starts with none)."""
    with _lock:
        _state["snapshot"] = None
        _state["checked_at"] = 0.0


def current(now: float | None = None) -> Snapshot:
    """The worker's snapshot, checked against the database version at most every
    RUNTIME_VERSION_CHECK_SECONDS and rebuilt when it moved.

    A snapshot older than RUNTIME_SNAPSHOT_MAX_AGE_SECONDS whose version has not moved is still
    current as far as anything recorded can tell: it keeps answering while a thread of the worker
    rebuilds it (the safety net must not stall a gateway's requests for the length of a build).
    """
    from runtime.versioning import current_version

    now = time.monotonic() if now is None else now
    snap = _state["snapshot"]
    if snap is not None and now - _state["checked_at"] < settings.RUNTIME_VERSION_CHECK_SECONDS:
        return snap
    with _lock:
        snap = _state["snapshot"]
        if snap is not None and now - _state["checked_at"] < settings.RUNTIME_VERSION_CHECK_SECONDS:
            return snap
        version = current_version()
        if snap is None or snap.version != version[0]:
            snap = build(version)
            _state["snapshot"] = snap
        else:
            if snap.stops_version != version[1]:
                snap = with_stops(snap, version[1])
                _state["snapshot"] = snap
            if now - snap.built_at > settings.RUNTIME_SNAPSHOT_MAX_AGE_SECONDS and not _state["refreshing"]:
                _state["refreshing"] = True
                threading.Thread(target=_refresh, args=(version,), name="decision-snapshot", daemon=True).start()
        _state["checked_at"] = now
    return snap


def _refresh(version: tuple[int, int]) -> None:
    """Rebuild the snapshot off the request path; a newer one taken meanwhile by a request wins."""
    try:
        fresh = build(version)
        with _lock:
            kept = _state["snapshot"]
            if kept is None or (kept.version, kept.stops_version) == (fresh.version, fresh.stops_version):
                _state["snapshot"] = fresh
    except Exception:  # noqa: BLE001 (the worker keeps its snapshot; the next check tries again)
        logger.warning("the decision snapshot could not be refreshed; keeping the current one", exc_info=True)
    finally:
        _state["refreshing"] = False
        connection.close()  # this thread's own connection


def warm() -> None:
    """Build the worker's snapshot before it takes its first request (gunicorn's post_worker_init), so a
    worker started or recycled under load does not hold its first decisions for the length of a build."""
    try:
        current()
    except Exception:  # noqa: BLE001 (a worker must start even while the database is away; it builds later)
        logger.warning(
            "the decision snapshot could not be built at worker start; the first decision builds it", exc_info=True
        )
    finally:
        connection.close()


def lifecycle_allows(agent: AgentFacts, environment: str) -> str | None:
    """The refusal code when the lifecycle does not allow the environment, else None."""
    if agent.lifecycle == Lifecycle.RETIRED:
        return "retired"
    if environment == Environment.PRODUCTION:
        if agent.lifecycle != Lifecycle.PRODUCTION or not agent.prod_released:
            return "not_in_environment"
    elif environment == Environment.STAGING:
        if agent.lifecycle not in (Lifecycle.PILOT, Lifecycle.PRODUCTION):
            return "not_in_environment"
    return None


def now_utc():
    return timezone.now()
