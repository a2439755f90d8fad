"""Every write to the telemetry tables outside the ingest hot path goes through these functions.

Ingest itself lives in ``telemetry.ingest`` (validated events in, one
transaction out); the functions here manage sources, tokens and identities,
keep the monitoring state in step with lifecycles and tiers, and purge.
"""

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from registry import audit
from registry import services as registry_services
from registry.models import Agent
from registry.roles import is_board, is_platform_admin
from telemetry import hooks, partitions
from telemetry.choices import SourceKind, TelemetryEnvironment
from telemetry.ingest import deadline_for
from telemetry.models import (
    ExternalIdentity,
    IdentityAlias,
    IngestToken,
    MonitoringState,
    Sighting,
    TelemetryEvent,
    TelemetrySource,
    UnregisteredToolUse,
)

INGEST_TOKEN_PREFIX = "ing_"  # noqa: S105 (a public prefix, not a secret)
# Touch last_used_at at most this often per token, so ingest does not write it on every batch.
LAST_USED_RESOLUTION = timedelta(seconds=60)
# The label of the first version a claim records when it asks for the tools telemetry saw.
CLAIMED_VERSION_LABEL = "0.1.0"
SOURCE_FIELDS = ("name", "kind", "description", "owner", "active", "default_environment", "environment_aliases")


def _ensure(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _ensure_perm(actor, perm: str, message: str) -> None:
    _ensure(actor is not None and actor.is_active and actor.has_perm(perm), message)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# --- Sources and tokens -------------------------------------------------------------


def create_source(
    *,
    actor,
    name: str,
    kind: str = SourceKind.COLLECTOR,
    description: str = "",
    owner=None,
    active: bool = True,
    default_environment: str = TelemetryEnvironment.UNSPECIFIED,
    environment_aliases: dict | None = None,
):
    """Register a telemetry source and mint its first token. Returns (source, raw token); the raw token
    is shown once and never stored."""
    _ensure_perm(actor, "telemetry.add_telemetrysource", "Only platform administrators manage telemetry sources.")
    with transaction.atomic():
        aliases = environment_aliases or {}
        if isinstance(aliases, dict):
            aliases = {str(k).strip().lower(): v for k, v in aliases.items()}
        source = TelemetrySource(
            name=(name or "").strip(),
            kind=kind,
            description=description,
            owner=owner,
            active=active,
            default_environment=default_environment,
            environment_aliases=aliases,
            created_by=actor,
        )
        source.full_clean()
        try:
            with transaction.atomic():
                source.save()
        except IntegrityError as exc:
            raise ValidationError({"name": "A source with this name exists already."}) from exc
        audit.record(
            "telemetry_source.created", actor=actor, target=source, after=audit.snapshot(source, SOURCE_FIELDS)
        )
        _token, raw = create_ingest_token(source, actor=actor, name="initial")
    return source, raw


def update_source(source: TelemetrySource, *, actor, **changes) -> TelemetrySource:
    _ensure_perm(actor, "telemetry.change_telemetrysource", "Only platform administrators manage telemetry sources.")
    unknown = set(changes) - set(SOURCE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    with transaction.atomic():
        current = TelemetrySource.objects.select_for_update().get(pk=source.pk)
        before = audit.snapshot(current, SOURCE_FIELDS)
        for name, value in changes.items():
            if name == "environment_aliases" and isinstance(value, dict):
                # Labels compare case-insensitively: store them as they are compared.
                value = {str(k).strip().lower(): v for k, v in value.items()}
            setattr(current, name, value)
        current.full_clean()
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError as exc:
            raise ValidationError({"name": "A source with this name exists already."}) from exc
        changed_before, changed_after = audit.diff(before, audit.snapshot(current, SOURCE_FIELDS))
        if changed_after:
            audit.record(
                "telemetry_source.changed", actor=actor, target=current, before=changed_before, after=changed_after
            )
    return current


def create_ingest_token(source: TelemetrySource, *, actor, name: str = "") -> tuple[IngestToken, str]:
    """Mint another token for a source (for rotation). Returns the row and the raw token, shown once."""
    _ensure_perm(actor, "telemetry.change_telemetrysource", "Only platform administrators manage ingest tokens.")
    raw = INGEST_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = IngestToken(source=source, name=(name or "")[:100], prefix=raw[:12], digest=hash_token(raw))
        token.created_by = actor
        token.full_clean()
        token.save()
        audit.record(
            "ingest_token.created",
            actor=actor,
            target=token,
            after={"source": source.pk, "source_name": source.name, "prefix": token.prefix, "name": token.name},
        )
    return token, raw


def revoke_ingest_token(token: IngestToken, *, actor) -> IngestToken:
    """Refuse this token from now on. Revoking twice changes nothing."""
    _ensure_perm(actor, "telemetry.change_telemetrysource", "Only platform administrators manage ingest tokens.")
    with transaction.atomic():
        current = IngestToken.objects.select_for_update().get(pk=token.pk)
        if current.revoked_at is None:
            current.revoked_at = timezone.now()
            current.save(update_fields=["revoked_at"])
            audit.record(
                "ingest_token.revoked",
                actor=actor,
                target=current,
                after={"revoked_at": current.revoked_at, "source_name": current.source.name},
            )
    return current


def authenticate_ingest_token(raw: str, *, now: datetime | None = None) -> IngestToken | None:
    """The usable token for this raw value, or None. Stamps last-used at most once a minute.

    A worker keeps a token it found usable for TELEMETRY_TOKEN_CACHE_SECONDS (default 5): a
    single-event request then reads no token row. Revoking a token or changing its source forgets
    every token in the process that made the change at once (``forget_ingest_tokens``); the other
    workers refuse the token within that interval."""
    if not raw or not raw.startswith(INGEST_TOKEN_PREFIX):
        return None
    now = now or timezone.now()
    digest = hash_token(raw)
    token = _known_tokens.get(digest)
    if token is None:
        # The digest is unique: order by pk alone (the default ordering would join the source to sort).
        token = IngestToken.objects.usable().select_related("source").filter(digest=digest).order_by("pk").first()
        if token is None:
            return None
        _known_tokens.put(digest, token)
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        IngestToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


class _TokenCache:
    """Usable tokens by digest, each for TELEMETRY_TOKEN_CACHE_SECONDS (0: none kept)."""

    MAX_ENTRIES = 10_000

    def __init__(self):
        self._entries: dict[str, tuple[float, IngestToken]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> IngestToken | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        expires, token = entry
        if time.monotonic() >= expires:
            with self._lock:
                self._entries.pop(digest, None)
            return None
        return token

    def put(self, digest: str, token: IngestToken) -> None:
        seconds = settings.TELEMETRY_TOKEN_CACHE_SECONDS
        if seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + seconds, token)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_known_tokens = _TokenCache()


def forget_ingest_tokens(**kwargs) -> None:
    """Forget the tokens this worker keeps, now and again when the change commits (a request that
    read the old row in between would otherwise keep it). Connected to every save and delete of a
    token or a source (``TelemetryConfig.ready``)."""
    _known_tokens.clear()
    transaction.on_commit(_known_tokens.clear)


# --- Identities ----------------------------------------------------------------------


def _may_triage(actor) -> bool:
    return actor is not None and actor.is_active and (is_board(actor) or is_platform_admin(actor))


def link_identity(identity: str, agent: Agent, *, actor) -> IdentityAlias:
    """Let a registered agent claim another identity: its sightings (and what upper layers raised
    about the identity) move to the agent."""
    identity = (identity or "").strip()
    _ensure(
        _may_triage(actor) or registry_services.can_change_agent(actor, agent),
        "Only the agent's owner, a delegate, the board or an administrator may link identities to it.",
    )
    if not identity:
        raise ValidationError({"identity": "Name the identity to link."})
    if identity == agent.key:
        raise ValidationError({"identity": "This is the agent's own key; it needs no alias."})
    if Agent.objects.filter(key=identity).exclude(pk=agent.pk).exists():
        raise ValidationError({"identity": f"{identity} is the key of another registered agent."})
    with transaction.atomic():
        alias = IdentityAlias(agent=agent, identity=identity, created_by=actor)
        alias.full_clean()
        try:
            with transaction.atomic():
                alias.save()
        except IntegrityError as exc:
            raise ValidationError({"identity": "Another agent already claims this identity."}) from exc
        _claim_sightings(Q(identity=identity), agent)
        audit.record("identity_alias.created", actor=actor, target=alias, agent=agent, after={"identity": identity})
        for listener in hooks.identity_linked_listeners:
            listener(identity, agent)
    return alias


def identity_facts(identity: str) -> dict | None:
    """What telemetry knows about an identity, for the short form that registers it (None: never seen).

    Environments, names and services are gathered over every source that reported it; so are the
    tools it called (``tools_seen``, one entry per tool and MCP server, each matched to the catalog
    tool of that name on that server when there is one) and the MCP servers it called them on
    (``mcp_servers_seen``, with the registered server of that host when there is one).
    """
    sightings = list(Sighting.objects.filter(identity=identity).select_related("agent"))
    if not sightings:
        return None
    environments = sorted({s.environment for s in sightings})
    tools_seen, mcp_servers_seen = _tools_seen(identity)
    return {
        "identity": identity,
        "agent_name": next((s.agent_name for s in sightings if s.agent_name), ""),
        "service_names": sorted({s.service_name for s in sightings if s.service_name}),
        "environments": environments,
        "first_seen_at": min(s.first_seen_at for s in sightings),
        "last_seen_at": max(s.last_seen_at for s in sightings),
        "event_count": sum(s.event_count for s in sightings),
        "claimed_by": next((s.agent for s in sightings if s.agent_id), None),
        "tools_seen": tools_seen,
        "mcp_servers_seen": mcp_servers_seen,
    }


def _tools_seen(identity: str) -> tuple[list[dict], list[dict]]:
    """The identity's tool calls over all sources, matched to the catalog by the rule the
    ungranted-tool-use check uses: the name is the tool's key, name or MCP name, and an MCP call's
    server is the tool's server (by host, which the registry keeps in lower case). Three queries,
    whatever the number of tools."""
    from registry.models import McpServer, Tool

    seen: dict[tuple[str, str], dict] = {}
    for use in UnregisteredToolUse.objects.filter(identity=identity).order_by():
        key = (use.tool_name, use.server_address.lower())
        row = seen.get(key)
        if row is None:
            seen[key] = {
                "tool_name": use.tool_name,
                "server_address": key[1],
                "calls": use.calls,
                "first_called_at": use.first_called_at,
                "last_called_at": use.last_called_at,
                "catalog_tool": None,
            }
        else:
            row["calls"] += use.calls
            row["first_called_at"] = min(row["first_called_at"], use.first_called_at)
            row["last_called_at"] = max(row["last_called_at"], use.last_called_at)
    if not seen:
        return [], []
    names = {name for name, _server in seen}
    hosts = {server for _name, server in seen if server}
    servers = {m.host.lower(): m for m in McpServer.objects.filter(host__in=hosts)} if hosts else {}
    candidates = Tool.objects.filter(Q(key__in=names) | Q(name__in=names) | Q(mcp_name__in=names)).select_related(
        "mcp_server"
    )
    for tool in candidates.order_by("key"):
        tool_server = tool.mcp_server.host.lower() if tool.mcp_server_id else None
        for (name, server), row in seen.items():
            if row["catalog_tool"] is not None or name not in (tool.key, tool.name, tool.mcp_name):
                continue
            if server == "" or tool_server == server:
                row["catalog_tool"] = tool
    tools_seen = sorted(seen.values(), key=lambda r: (r["server_address"], r["tool_name"]))
    for row in tools_seen:
        tool = row["catalog_tool"]
        row["grant_refusal"] = "not in the tool catalog" if tool is None else (tool.grant_refusal() or "")
    mcp_servers_seen = [
        {
            "address": host,
            "server": servers.get(host),
            "tools": sorted(r["tool_name"] for r in tools_seen if r["server_address"] == host),
        }
        for host in sorted(hosts)
    ]
    return tools_seen, mcp_servers_seen


def claim_shadow_agent(
    identity: str,
    *,
    actor,
    owner,
    tools=(),
    model_provider: str = "",
    model_name: str = "",
    **fields,
) -> Agent:
    """Register the agent behind an unknown identity with the short form, in one transaction.

    The registration takes what telemetry knows (environments seen, name and service, first and
    last seen) and the caller supplies what it cannot know (owner, unit, purpose, pattern,
    autonomy, data). The identity becomes the new agent's (its key, or an alias), so its sightings
    move to the agent and the shadow-agent finding resolves at once.

    ``tools``: catalog tools it was seen calling that the caller kept ticked. They are asked for on
    the agent's first version (``model_provider`` and ``model_name`` name its model), each at the
    catalog's access for the tool, and reach the board with that version's release review.
    """
    _ensure(_may_triage(actor), "Only the board or an administrator registers agents from the triage.")
    identity = (identity or "").strip()
    facts = identity_facts(identity) if identity else None
    if facts is None:
        raise ValidationError({"identity": "Telemetry has not reported this identity."})
    if facts["claimed_by"] is not None or IdentityAlias.objects.filter(identity=identity).exists():
        raise ValidationError({"identity": f"{identity} already belongs to a registered agent."})
    tools = list(tools)
    seen_tools = {row["catalog_tool"].pk: row for row in facts["tools_seen"] if row["catalog_tool"] is not None}
    strangers = [tool.key for tool in tools if tool.pk not in seen_tools]
    if strangers:
        raise ValidationError({"tools": f"Telemetry did not see {identity} call {', '.join(strangers)}."})
    if tools and not (model_provider.strip() and model_name.strip()):
        raise ValidationError(
            {
                name: "The first version, which asks for the tools, names its model."
                for name, value in (("model_provider", model_provider), ("model_name", model_name))
                if not value.strip()
            }
        )
    seen = f"Seen in telemetry as {identity}"
    if facts["service_names"]:
        seen += f" (service {', '.join(facts['service_names'])})"
    seen += (
        f" from {facts['first_seen_at']:%Y-%m-%d %H:%M} to {facts['last_seen_at']:%Y-%m-%d %H:%M} UTC"
        f" in {', '.join(facts['environments'])}."
    )
    fields.setdefault("description", seen)
    for environment in facts["environments"]:
        fields[f"runs_in_{environment}"] = True
    with transaction.atomic():
        agent = registry_services.create_agent(actor=actor, owner=owner, **fields)
        if identity != agent.key:
            link_identity(identity, agent, actor=actor)
        if tools:
            called = ", ".join(
                f"{seen_tools[t.pk]['tool_name']}"
                + (f" on {seen_tools[t.pk]['server_address']}" if seen_tools[t.pk]["server_address"] else "")
                for t in tools
            )
            registry_services.create_first_version_at_registration(
                agent,
                actor=actor,
                label=CLAIMED_VERSION_LABEL,
                model_provider=model_provider.strip(),
                model_name=model_name.strip(),
                change_summary=f"Registered from the unknown-agents triage, asking for the tools telemetry "
                f"saw {identity} call: {called}.",
                tools=[(tool, tool.max_access) for tool in tools],
            )
    return agent


def remove_identity_alias(alias: IdentityAlias, *, actor) -> None:
    _ensure(
        _may_triage(actor) or registry_services.can_change_agent(actor, alias.agent),
        "Only the agent's owner, a delegate, the board or an administrator may remove its aliases.",
    )
    with transaction.atomic():
        agent = alias.agent
        Sighting.objects.filter(identity=alias.identity, agent=agent).update(agent=None)
        audit.record(
            "identity_alias.removed", actor=actor, target=alias, agent=agent, before={"identity": alias.identity}
        )
        alias.delete()


def mark_identity_external(identity: str, *, actor, reason: str, expires_at: datetime) -> ExternalIdentity:
    """Record that an unregistered identity is known and external (a vendor's or partner's agent) until
    ``expires_at``; the shadow-agent check leaves it alone until then."""
    _ensure(_may_triage(actor), "Only the board or an administrator may mark identities as external.")
    identity = (identity or "").strip()
    reason = (reason or "").strip()
    errors = {}
    if not identity:
        errors["identity"] = "Name the identity."
    if not reason:
        errors["reason"] = "Say why this agent may run unregistered; the reason is kept."
    if expires_at is None or expires_at <= timezone.now():
        errors["expires_at"] = "The expiry must be in the future."
    elif expires_at > timezone.now() + timedelta(days=366):
        errors["expires_at"] = "Review external agents at least once a year: pick an expiry within 12 months."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row, created = ExternalIdentity.objects.select_for_update().get_or_create(
            identity=identity, defaults={"reason": reason, "expires_at": expires_at, "marked_by": actor}
        )
        before = {} if created else {"reason": row.reason, "expires_at": row.expires_at}
        if not created:
            row.reason, row.expires_at, row.marked_by = reason, expires_at, actor
            row.full_clean()
            row.save()
        audit.record(
            "identity.marked_external",
            actor=actor,
            target=row,
            before=before,
            after={"identity": identity, "reason": reason, "expires_at": expires_at},
        )
    return row


def _claim_sightings(condition: Q, agent: Agent) -> int:
    """Point matching unclaimed sightings at the agent and carry their last report into its monitoring."""
    claimed = Sighting.objects.filter(condition, agent__isnull=True).update(agent=agent)
    last = Sighting.objects.filter(agent=agent).order_by("-last_seen_at").first()
    if last is not None:
        state, _ = MonitoringState.objects.get_or_create(agent=agent)
        if state.last_seen_at is None or last.last_seen_at > state.last_seen_at:
            state.last_seen_at = last.last_seen_at
            state.last_environment = last.environment
            state.last_source_id = last.source_id
            state.deadline_at = deadline_for(agent, state.last_seen_at)
            state.save()
    return claimed


def claim_identities_for_new_agent(agent: Agent, actor) -> None:
    """Registry hook (agent created): sightings reported under the new key, or under a name equal
    to it, now belong to the agent."""
    _claim_sightings(Q(identity=agent.key) | Q(agent_name=agent.key, identity__contains="@"), agent)
    for listener in hooks.identity_linked_listeners:
        listener(agent.key, agent)


def claim_identities_for_new_agents(agents: list[Agent], actor) -> None:
    """The same for a bulk import, in one query when nothing telemetry saw matches the new keys."""
    by_key = {agent.key: agent for agent in agents}
    matching = set(
        Sighting.objects.filter(Q(identity__in=list(by_key)) | Q(agent_name__in=list(by_key), identity__contains="@"))
        .filter(agent__isnull=True)
        .values_list("identity", "agent_name")
    )
    for key in {identity if identity in by_key else name for identity, name in matching}:
        if key in by_key:
            claim_identities_for_new_agent(by_key[key], actor)


claim_identities_for_new_agent.bulk = claim_identities_for_new_agents


def refresh_agent_deadline(agent: Agent, *args) -> None:
    """Registry hook (lifecycle or risk tier changed): the agent's deadline follows at once."""
    state = MonitoringState.objects.filter(agent=agent).first()
    deadline = deadline_for(agent, state.last_seen_at if state else None)
    if state is None:
        if deadline is not None:
            MonitoringState.objects.get_or_create(agent=agent, defaults={"deadline_at": deadline})
        return
    if state.deadline_at != deadline:
        MonitoringState.objects.filter(pk=state.pk).update(deadline_at=deadline, updated_at=timezone.now())


def refresh_monitoring_deadlines() -> int:
    """Bring every agent's deadline in step with its current tier and lifecycle, in a constant
    number of statements (one per tier and watched state), and create the state row of every
    watched agent that has none yet, so "never reported" is a deadline like any other."""
    windows = hooks.monitoring_windows()
    watched_states = sorted({state for by_state in windows.values() for state in by_state})
    if connection.vendor == "postgresql":
        return _refresh_deadlines_joined(windows, watched_states)
    missing = Agent.objects.filter(lifecycle__in=watched_states, monitoring__isnull=True).values_list("pk", flat=True)
    MonitoringState.objects.bulk_create(
        [MonitoringState(agent_id=pk) for pk in missing], ignore_conflicts=True, batch_size=1000
    )
    changed = (
        MonitoringState.objects.exclude(agent__lifecycle__in=watched_states)
        .filter(deadline_at__isnull=False)
        .update(deadline_at=None)
    )
    entered = Subquery(Agent.objects.filter(pk=OuterRef("agent_id")).values("lifecycle_changed_at")[:1])
    start = Greatest(Coalesce(F("last_seen_at"), entered), entered)
    for tier, by_state in windows.items():
        tiers = [tier, ""] if tier == hooks.UNASSESSED_TIER else [tier]
        for state, window in by_state.items():
            deadline = ExpressionWrapper(start + Value(window), output_field=DateTimeField())
            rows = MonitoringState.objects.filter(agent__risk_tier__in=tiers, agent__lifecycle=state)
            changed += rows.exclude(deadline_at=deadline).update(deadline_at=deadline, updated_at=timezone.now())
            # exclude() leaves NULL deadlines out (NULL <> x is unknown); set those too.
            changed += rows.filter(deadline_at__isnull=True).update(deadline_at=deadline, updated_at=timezone.now())
    return changed


def _refresh_deadlines_joined(windows, watched_states) -> int:
    """PostgreSQL: every deadline in one ``UPDATE … FROM`` joining the agents to a table of the
    windows, writing only rows whose deadline moved (the portable per-tier updates read each
    agent's lifecycle_changed_at through a correlated subquery per row: seconds at 50,000 agents).
    Same rules: not watched -> no deadline; watched with a window -> the window after the later of
    the last report and entering the state; watched without a window for its tier -> unchanged."""
    by_tier_state: dict[tuple[str, str], timedelta] = {}
    for tier, by_state in windows.items():
        tiers = [tier, ""] if tier == hooks.UNASSESSED_TIER else [tier]
        for state, window in by_state.items():
            for t in tiers:
                by_tier_state[(t, state)] = window
    m, a = MonitoringState._meta.db_table, Agent._meta.db_table
    now = timezone.now()
    watched = ", ".join(["%s"] * len(watched_states)) or "NULL"
    # In the order the placeholders appear: the SET's watched states, its time, the windows table,
    # the WHERE's watched states.
    window_params: list = []
    if by_tier_state:
        windows_sql = "(VALUES " + ", ".join(["(%s, %s, %s::interval)"] * len(by_tier_state)) + ")"
        window_params = [v for (tier, state), window in by_tier_state.items() for v in (tier, state, window)]
    else:
        windows_sql = "(SELECT ''::text, ''::text, NULL::interval WHERE false)"
    new = f"""CASE WHEN a.lifecycle NOT IN ({watched}) THEN NULL
        WHEN w.win IS NULL THEN m.deadline_at
        ELSE GREATEST(COALESCE(m.last_seen_at, a.lifecycle_changed_at), a.lifecycle_changed_at) + w.win END"""
    with connection.cursor() as cursor:
        # Table names come from model metadata, every value is a bound parameter.
        cursor.execute(
            f"""INSERT INTO {m} (agent_id, last_seen_at, last_environment, last_source_id, deadline_at, updated_at)
                SELECT a.id, NULL, '', NULL, NULL, %s FROM {a} AS a
                WHERE a.lifecycle IN ({watched}) AND NOT EXISTS (SELECT 1 FROM {m} AS m WHERE m.agent_id = a.id)
                ON CONFLICT (agent_id) DO NOTHING""",  # noqa: S608
            [now, *watched_states],
        )
        # The agents join the state rows themselves (no second copy of the table to join back), so the
        # new deadline is computed from the row version being updated.
        cursor.execute(
            f"""UPDATE {m} AS m SET deadline_at = {new}, updated_at = %s
                FROM {a} AS a
                LEFT JOIN {windows_sql} AS w(tier, state, win) ON w.tier = a.risk_tier AND w.state = a.lifecycle
                WHERE a.id = m.agent_id AND m.deadline_at IS DISTINCT FROM ({new})""",  # noqa: S608
            [*watched_states, now, *window_params, *watched_states],
        )
        return cursor.rowcount


@dataclass
class PurgeResult:
    partitions_dropped: int = 0
    rows_deleted: int = 0

    def as_dict(self) -> dict:
        return {"partitions_dropped": self.partitions_dropped, "rows_deleted": self.rows_deleted}


def purge_old_events(*, now: datetime | None = None, batch_size: int = 10_000) -> PurgeResult:
    """Remove raw events past the retention period. Sightings, monitoring state and rollups stay.

    PostgreSQL (partitioned by day): each day whose every event is past retention is detached and
    dropped whole, and the few expired rows of the default partition are deleted in batches; a day
    is dropped once all of it has expired, so events stay up to a day past the retention period.
    Elsewhere (SQLite, the demo): batched deletes, so no statement holds locks for long.
    The tool use of unclaimed identities goes too once its last call is as old: it names what an
    unknown agent did, like the raw events.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.TELEMETRY_RETENTION_DAYS)
    UnregisteredToolUse.objects.filter(last_called_at__lt=cutoff).delete()
    if partitions.is_partitioned():
        dropped = partitions.drop_expired_partitions(cutoff)
        return PurgeResult(len(dropped), partitions.delete_expired_default_rows(cutoff, batch_size))
    result = PurgeResult()
    while True:
        ids = list(TelemetryEvent.objects.older_than(cutoff).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return result
        deleted, _ = TelemetryEvent.objects.filter(pk__in=ids).delete()
        result.rows_deleted += deleted


def prepare_event_partitions(*, now: datetime | None = None) -> partitions.PrepareResult:
    """Create the raw events' day partitions ahead (PostgreSQL; nothing to do elsewhere)."""
    return partitions.prepare_partitions(now=now)
