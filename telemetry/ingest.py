"""The ingest pipeline shared by the JSON batch endpoint and OTLP: validate, then store.

Storing a batch is one transaction: the raw events (a repeated event id from
the same source is skipped by the database, so a retried batch is counted
once), then the sightings, the monitoring state and the daily rollups,
upserted in a fixed order so concurrent batches cannot deadlock. The SQL is
plain ``INSERT … ON CONFLICT``, which PostgreSQL and SQLite both understand.
"""

import contextlib
import functools
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from registry import services as registry_services
from registry.models import Agent
from telemetry import hooks
from telemetry.choices import BATCH_EVENT_KINDS, EventKind
from telemetry.environments import DEFAULT_TABLE, EnvironmentTable
from telemetry.identity import Identity, candidate_keys, identify
from telemetry.models import (
    LATENCY_BUCKET_FIELDS,
    DailyEvaluation,
    DailyToolUsage,
    DailyUsage,
    IdentityAlias,
    IngestDay,
    MonitoringState,
    RejectedItem,
    RejectionCount,
    Sighting,
    TelemetryEvent,
    ToolUse,
    UnregisteredToolUse,
    latency_bucket,
)

MAX_FUTURE_SKEW = timedelta(days=1)
MAX_TOOL_NAME = 200
MAX_SERVER_ADDRESS = 255
MAX_EVALUATION_NAME = 200
MAX_EVALUATION_LABEL = 100
# Rows per INSERT statement: well under PostgreSQL's 65,535 bind parameters and SQLite's 32,766.
INSERT_CHUNK = 1000


@dataclass(frozen=True)
class Evaluation:
    """One evaluation result (``gen_ai.evaluation.*``): its name, numeric score if any, label if any."""

    name: str
    score: float | None = None
    label: str = ""


@dataclass
class Event:
    """One validated event, ready to store. ``tool_name`` (and ``tool_server``, an MCP server's
    address) name the tool of a tool call; ``evaluations`` are the results reported with the event."""

    identity: Identity
    environment: str
    kind: str
    occurred_at: datetime
    count: int = 1
    is_error: bool = False
    latency_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    event_id: str | None = None
    tool_name: str = ""
    tool_server: str = ""
    evaluations: tuple[Evaluation, ...] = ()
    environment_label: str = ""


@dataclass
class StoreResult:
    accepted: int = 0
    duplicates: int = 0
    agents: set = field(default_factory=set)


class EventError(Exception):
    """An event that cannot be stored; ``errors`` maps field to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


def retention() -> timedelta:
    return timedelta(days=settings.TELEMETRY_RETENTION_DAYS)


def check_timestamp(occurred_at: datetime, now: datetime, name: str = "timestamp") -> datetime:
    if occurred_at > now + MAX_FUTURE_SKEW:
        raise EventError({name: "This time is more than a day in the future; check the sender's clock."})
    if occurred_at < now - retention():
        raise EventError(
            {name: f"This time is older than the {settings.TELEMETRY_RETENTION_DAYS}-day retention period."}
        )
    return occurred_at


def _parse_time(value) -> datetime:
    if isinstance(value, bool):
        raise EventError({"timestamp": "Send an ISO 8601 time, e.g. 2026-01-31T09:30:00Z."})
    if isinstance(value, (int, float)):
        # Seconds since the epoch (milliseconds and nanoseconds are told apart by size).
        seconds = float(value)
        if seconds > 1e17:
            seconds /= 1e9
        elif seconds > 1e11:
            seconds /= 1e3
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise EventError({"timestamp": "This number is not a valid time."}) from exc
    if not isinstance(value, str) or not value.strip():
        raise EventError({"timestamp": "A timestamp is required (ISO 8601, e.g. 2026-01-31T09:30:00Z)."})
    try:
        parsed = parse_datetime(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None:
        raise EventError({"timestamp": f"{value!r} is not an ISO 8601 time."})
    if timezone.is_naive(parsed):
        raise EventError({"timestamp": "Include the time zone (for example a trailing Z for UTC)."})
    return parsed


def _non_negative_int(raw: dict, name: str, default: int = 0, maximum: int = 10**12) -> int:
    value = raw.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise EventError({name: "Must be a whole number."})
    if not 0 <= value <= maximum:
        raise EventError({name: f"Must be between 0 and {maximum}."})
    return int(value)


def _string(raw: dict, name: str, max_length: int) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise EventError({name: "Must be a string."})
    value = value.strip()
    if len(value) > max_length:
        raise EventError({name: f"At most {max_length} characters."})
    if "\x00" in value:
        raise EventError({name: "Must not contain NUL characters."})
    return value


def parse_batch_event(raw, now: datetime, environments: EnvironmentTable = DEFAULT_TABLE) -> Event:
    """Validate one event of a JSON batch. Raises EventError naming every field at fault.
    The environment label is never at fault: ``environments`` (the source's table) reads it."""
    if not isinstance(raw, dict):
        raise EventError({"event": "Each event must be a JSON object."})
    errors: dict[str, str] = {}

    def attempt(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EventError as exc:
            errors.update(exc.errors)
            return None

    key = attempt(_string, raw, "agent", 200) or attempt(_string, raw, "agent_key", 200)
    name = attempt(_string, raw, "agent_name", 200)
    service = attempt(_string, raw, "service", 200)
    identity = identify(key, name, service)
    if identity is None and "agent" not in errors and "agent_key" not in errors:
        errors["agent"] = "Name the agent: its key (agent), or agent_name with service."
    environment, environment_label = environments.resolve(raw.get("environment"))
    kind = raw.get("kind", EventKind.HEARTBEAT)
    if kind not in BATCH_EVENT_KINDS:
        errors["kind"] = f"Unknown kind {kind!r}; use one of {', '.join(BATCH_EVENT_KINDS)}."
    occurred_at = attempt(_parse_time, raw.get("timestamp"))
    if occurred_at is not None:
        attempt(check_timestamp, occurred_at, now)
    count = attempt(_non_negative_int, raw, "count", 1, 1_000_000)
    input_tokens = attempt(_non_negative_int, raw, "input_tokens")
    output_tokens = attempt(_non_negative_int, raw, "output_tokens")
    tokens = attempt(_non_negative_int, raw, "tokens")
    latency = raw.get("latency_ms")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0):
        errors["latency_ms"] = "Must be a non-negative number of milliseconds."
    cost = Decimal(0)
    if raw.get("cost") is not None:
        try:
            cost = Decimal(str(raw["cost"]))
            if not cost.is_finite() or cost < 0 or cost >= Decimal("1e8"):
                raise InvalidOperation
            cost = cost.quantize(Decimal("0.000001"))
        except (InvalidOperation, ValueError):
            errors["cost"] = "Must be a non-negative amount."
    tool_name = attempt(_string, raw, "tool", MAX_TOOL_NAME) or ""
    tool_server = attempt(_string, raw, "mcp_server", MAX_SERVER_ADDRESS) or ""
    if (tool_name or tool_server) and kind != EventKind.TOOL_CALL:
        errors["tool"] = "Only tool_call events name a tool (tool, mcp_server)."
    elif tool_server and not tool_name:
        errors["tool"] = "Name the tool called on the MCP server."
    event_id = raw.get("event_id")
    if event_id is not None and (not isinstance(event_id, (str, int)) or isinstance(event_id, bool)):
        errors["event_id"] = "Must be a string."
    elif event_id is not None:
        event_id = str(event_id).strip()[:100] or None
    if errors:
        raise EventError(errors)
    if tokens and not (input_tokens or output_tokens):
        input_tokens = tokens
    return Event(
        identity=identity,
        environment=environment,
        kind=kind,
        occurred_at=occurred_at,
        count=count,
        is_error=kind == EventKind.ERROR,
        latency_ms=float(latency) if latency is not None else None,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost=cost,
        event_id=event_id,
        tool_name=tool_name,
        tool_server=tool_server.lower(),
        environment_label=environment_label,
    )


# --- Storing ----------------------------------------------------------------------


def resolve_agents(identities) -> dict[str, Agent]:
    """identity value -> registered agent, through claimed aliases and agent keys (two narrow queries:
    for a single event they are a good part of the request)."""
    identities = list({i.value: i for i in identities}.values())
    if not identities:
        return {}
    # No ordering (the models' default orderings join and sort for nothing here).
    aliased = dict(
        IdentityAlias.objects.filter(identity__in=[i.value for i in identities])
        .order_by()
        .values_list("identity", "agent_id")
    )
    wanted = {i.value: candidate_keys(i) for i in identities if i.value not in aliased}
    keys = {key for keys in wanted.values() for key in keys}
    if not aliased and not keys:
        return {}
    # Only what storing reads (deadline, key lock): agent rows are wide.
    rows = (
        Agent.objects.filter(Q(pk__in=set(aliased.values())) | Q(key__in=keys))
        .only("pk", "key", "name", "risk_tier", "lifecycle", "lifecycle_changed_at", "key_locked_at")
        .order_by()
    )
    by_pk, by_key = {}, {}
    for agent in rows:
        by_pk[agent.pk] = agent
        by_key[agent.key] = agent
    resolved = {value: by_pk[pk] for value, pk in aliased.items() if pk in by_pk}
    for value, keys_for in wanted.items():
        for key in keys_for:
            if key in by_key:
                resolved[value] = by_key[key]
                break
    return resolved


@functools.cache
def _q(name: str) -> str:
    # Called hundreds of times per request while building the statements; names are few and fixed.
    return connection.ops.quote_name(name)


@functools.cache
def _column_types(model, columns: tuple[str, ...]) -> tuple[list[str], list[int]]:
    """PostgreSQL types of the columns, and the positions of float columns (per process, once)."""
    fields = [model._meta.get_field(c) for c in columns]
    return [f.db_type(connection) for f in fields], [
        i for i, f in enumerate(fields) if f.get_internal_type() == "FloatField"
    ]


def _rows_insert(model, columns: list[str], rows: list[list]) -> tuple[str, list]:
    """``INSERT INTO table (columns) <rows>`` with its parameters.

    On PostgreSQL the rows travel as one array per column (``SELECT * FROM unnest(...)``): 14
    parameters instead of 14,000, so neither the driver nor the server parses a huge statement
    (measured: a third of a 1,000-event batch went into splitting the placeholders). The arrays are
    sent in binary (``%b``, 2.5 times faster to write than text for a batch's 15 columns), so the
    statement runs only through ``_statement_cursor`` (server-side binding). Elsewhere (SQLite) a
    plain multi-row ``VALUES`` list.
    """
    table = _q(model._meta.db_table)
    names = ", ".join(_q(c) for c in columns)
    if connection.vendor == "postgresql":
        types, floats = _column_types(model, tuple(columns))
        source = "SELECT * FROM unnest(" + ", ".join(f"%b::{t}[]" for t in types) + ")"  # noqa: S608
        params = [list(column) for column in zip(*rows, strict=True)]
        # An array holds one type: a float column may have collected ints (psycopg refuses mixed lists).
        for i in floats:
            params[i] = [float(v) if v is not None else None for v in params[i]]
        # Identifiers and types come from model metadata, every value is a bound parameter.
        return f"INSERT INTO {table} ({names}) {source}", params  # noqa: S608
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return f"INSERT INTO {table} ({names}) VALUES " + ", ".join([row] * len(rows)), [  # noqa: S608
        v for r in rows for v in r
    ]


def _dt(value):
    return connection.ops.adapt_datetimefield_value(value)


def _dec(value, places=6, digits=16):
    return connection.ops.adapt_decimalfield_value(value, digits, places)


def _insert_events(source_id: int, events: list[Event], agents: dict, now: datetime) -> tuple[list[Event], list]:
    """Insert the raw events; returns those stored (repeated event ids are skipped) and the inserts
    still to run: a chunk with no event id cannot conflict, so its insert waits to travel with the
    rollups in one round trip (``_execute_all``) instead of costing one of its own."""
    columns = [
        "source_id",
        "event_id",
        "identity",
        "agent_id",
        "environment",
        "environment_label",
        "kind",
        "occurred_at",
        "received_at",
        "count",
        "is_error",
        "latency_ms",
        "input_tokens",
        "output_tokens",
        "cost",
    ]
    stored: list[Event] = []
    deferred: list = []
    received = _dt(now)
    with _statement_cursor() as cursor:
        for start in range(0, len(events), INSERT_CHUNK):
            chunk = events[start : start + INSERT_CHUNK]
            rows = []
            for e in chunk:
                agent = agents.get(e.identity.value)
                rows.append(
                    [
                        source_id,
                        e.event_id,
                        e.identity.value,
                        agent.pk if agent else None,
                        e.environment,
                        e.environment_label,
                        e.kind,
                        _dt(e.occurred_at),
                        received,
                        e.count,
                        e.is_error,
                        e.latency_ms,
                        e.input_tokens,
                        e.output_tokens,
                        _dec(e.cost, digits=14),
                    ]
                )
            insert, params = _rows_insert(TelemetryEvent, columns, rows)
            if not any(e.event_id is not None for e in chunk):
                # Nothing can conflict: no id to skip, nothing to read back.
                deferred.append((insert, params))
                stored.extend(chunk)
                continue
            sql = (
                insert
                + f" ON CONFLICT ({_q('source_id')}, {_q('event_id')}, {_q('occurred_at')})"
                + f" WHERE {_q('event_id')} IS NOT NULL"
                + f" DO NOTHING RETURNING {_q('event_id')}"
            )
            cursor.execute(sql, params)
            returned = [r[0] for r in cursor.fetchall()]
            with_id = {r for r in returned if r is not None}
            for e in chunk:
                if e.event_id is None or e.event_id in with_id:
                    stored.append(e)
    return stored, deferred


def _upsert(model, columns: list[str], conflict: list[str], updates: dict[str, str], rows: list[list]) -> list:
    """The ``INSERT … ON CONFLICT DO UPDATE`` statements (one per chunk) as (sql, params);
    ``rows`` are already one per conflict key."""
    t = _q(model._meta.db_table)
    set_clause = ", ".join(f"{_q(col)} = {expr.format(t=t, x='excluded')}" for col, expr in updates.items())
    statements = []
    for start in range(0, len(rows), INSERT_CHUNK):
        insert, params = _rows_insert(model, columns, rows[start : start + INSERT_CHUNK])
        conflict_sql = ", ".join(_q(c) for c in conflict)
        statements.append((f"{insert} ON CONFLICT ({conflict_sql}) DO UPDATE SET {set_clause}", params))
    return statements


def _execute_all(statements: list) -> None:
    """Run the statements in order, on PostgreSQL in one round trip (``_statement_cursor``)."""
    if not statements:
        return
    with _statement_cursor(pipelined=len(statements) > 1) as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


@contextlib.contextmanager
def _statement_cursor(*, pipelined: bool = False):
    """A cursor for the ingest statements. On PostgreSQL its values travel apart from the statement
    (server-side binding): psycopg sends a 1,000-row column array in binary, where Django's
    client-side binding spells out and quotes every element in Python (a third of a batch's time,
    measured). Nothing is prepared: Django opens its connections with psycopg's ``prepare_threshold``
    off, so each statement is sent unnamed with its values, which a transaction-pooling PgBouncer
    needs. ``pipelined``: the statements are sent together and their results read at the end, one
    round trip for all; errors surface when the block ends, as Django's database errors.
    Elsewhere (SQLite) Django's own cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg

    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    # Through Django's wrapper: the queries are logged and counted and pass its execute wrappers.
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with cursor, connection.wrap_database_errors:
        if pipelined:
            with connection.connection.pipeline():
                yield cursor
        else:
            yield cursor


def _earlier(col):
    return f"CASE WHEN {{x}}.{_q(col)} < {{t}}.{_q(col)} THEN {{x}}.{_q(col)} ELSE {{t}}.{_q(col)} END"


def _later(col, value_col=None):
    value_col = value_col or col
    return (
        f"CASE WHEN {{t}}.{_q(col)} IS NULL OR {{x}}.{_q(col)} > {{t}}.{_q(col)} "
        f"THEN {{x}}.{_q(value_col)} ELSE {{t}}.{_q(value_col)} END"
    )


def _add(col):
    return f"{{t}}.{_q(col)} + {{x}}.{_q(col)}"


def _upsert_sightings(source_id: int, events: list[Event], agents: dict) -> list:
    groups: dict[tuple, list] = {}
    for e in events:
        key = (e.identity.value, e.environment)
        g = groups.get(key)
        if g is None:
            groups[key] = [e.identity, e.occurred_at, e.occurred_at, e.count, e.environment_label]
        else:
            g[1] = min(g[1], e.occurred_at)
            if e.occurred_at >= g[2]:
                g[2], g[4] = e.occurred_at, e.environment_label
            g[3] += e.count
    rows = []
    for (value, environment), (ident, first, last, count, label) in sorted(groups.items()):
        agent = agents.get(value)
        rows.append(
            [
                value,
                environment,
                label,
                source_id,
                agent.pk if agent else None,
                ident.agent_name,
                ident.service_name,
                _dt(first),
                _dt(last),
                count,
            ]
        )
    return _upsert(
        Sighting,
        [
            "identity",
            "environment",
            "environment_label",
            "source_id",
            "agent_id",
            "agent_name",
            "service_name",
            "first_seen_at",
            "last_seen_at",
            "event_count",
        ],
        ["identity", "environment", "source_id"],
        {
            "agent_id": "{x}." + _q("agent_id"),
            "agent_name": f"CASE WHEN {{x}}.{_q('agent_name')} <> '' THEN {{x}}.{_q('agent_name')} "
            f"ELSE {{t}}.{_q('agent_name')} END",
            "service_name": f"CASE WHEN {{x}}.{_q('service_name')} <> '' THEN {{x}}.{_q('service_name')} "
            f"ELSE {{t}}.{_q('service_name')} END",
            "first_seen_at": _earlier("first_seen_at"),
            # The label of the latest report (SET reads the row as it was, so last_seen_at is the old one).
            "environment_label": _later("last_seen_at", "environment_label"),
            "last_seen_at": _later("last_seen_at"),
            "event_count": _add("event_count"),
        },
        rows,
    )


def deadline_for(agent: Agent, last_seen_at: datetime | None, windows: dict | None = None) -> datetime | None:
    """When the next report is due: the tier's window after the later of the last report and
    the moment the agent entered its current state (a fresh pilot gets the full window)."""
    windows = windows if windows is not None else hooks.monitoring_windows()
    window = windows.get(agent.risk_tier or hooks.UNASSESSED_TIER, {}).get(agent.lifecycle)
    if window is None:
        return None
    start = max(last_seen_at, agent.lifecycle_changed_at) if last_seen_at else agent.lifecycle_changed_at
    return start + window


def _upsert_monitoring(source_id: int, events: list[Event], agents: dict, now: datetime) -> list:
    latest: dict[int, Event] = {}
    for e in events:
        agent = agents.get(e.identity.value)
        if agent is None:
            continue
        current = latest.get(agent.pk)
        if current is None or e.occurred_at > current.occurred_at:
            latest[agent.pk] = e
    rows = []
    by_pk = {a.pk: a for a in agents.values()}
    windows = hooks.monitoring_windows() if latest else {}
    for pk in sorted(latest):
        e = latest[pk]
        deadline = deadline_for(by_pk[pk], e.occurred_at, windows)
        rows.append([pk, _dt(e.occurred_at), e.environment, source_id, _dt(deadline), _dt(now)])
    return _upsert(
        MonitoringState,
        ["agent_id", "last_seen_at", "last_environment", "last_source_id", "deadline_at", "updated_at"],
        ["agent_id"],
        {
            # Only a later report moves the state forward; a late-arriving old event changes nothing.
            "last_environment": _later("last_seen_at", "last_environment"),
            "last_source_id": _later("last_seen_at", "last_source_id"),
            "deadline_at": _later("last_seen_at", "deadline_at"),
            "last_seen_at": _later("last_seen_at"),
            "updated_at": "{x}." + _q("updated_at"),
        },
        rows,
    )


USAGE_COUNTERS = (
    "invocations",
    "errors",
    "tool_calls",
    "escalations",
    "heartbeats",
    "input_tokens",
    "output_tokens",
    "cost",
    "latency_ms_total",
    "latency_samples",
    *LATENCY_BUCKET_FIELDS,
)
_KIND_COUNTER = {
    EventKind.INVOCATION: "invocations",
    EventKind.ERROR: "errors",
    EventKind.TOOL_CALL: "tool_calls",
    EventKind.ESCALATION: "escalations",
    EventKind.HEARTBEAT: "heartbeats",
}


def _upsert_usage(events: list[Event], agents: dict) -> list:
    totals: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys((*USAGE_COUNTERS, "latency_ms_max"), 0))
    for e in events:
        agent = agents.get(e.identity.value)
        if agent is None:
            continue
        t = totals[(agent.pk, e.occurred_at.astimezone(UTC).date(), e.environment)]
        counter = _KIND_COUNTER.get(e.kind)
        if counter:
            t[counter] += e.count
        if e.is_error and e.kind != EventKind.ERROR:
            t["errors"] += e.count
        t["input_tokens"] += e.input_tokens
        t["output_tokens"] += e.output_tokens
        t["cost"] += e.cost
        if e.latency_ms is not None:
            t["latency_ms_total"] += e.latency_ms
            t["latency_samples"] += 1
            t[latency_bucket(e.latency_ms)] += 1
            t["latency_ms_max"] = max(t["latency_ms_max"], e.latency_ms)
    rows = []
    for (pk, day, environment), t in sorted(totals.items()):
        rows.append(
            [pk, day.isoformat() if connection.vendor == "sqlite" else day, environment]
            + [_dec(t[c]) if c == "cost" else t[c] for c in USAGE_COUNTERS]
            + [t["latency_ms_max"]]
        )
    updates = {c: _add(c) for c in USAGE_COUNTERS}
    updates["latency_ms_max"] = (
        f"CASE WHEN {{x}}.{_q('latency_ms_max')} > {{t}}.{_q('latency_ms_max')} "
        f"THEN {{x}}.{_q('latency_ms_max')} ELSE {{t}}.{_q('latency_ms_max')} END"
    )
    return _upsert(
        DailyUsage,
        ["agent_id", "day", "environment", *USAGE_COUNTERS, "latency_ms_max"],
        ["agent_id", "day", "environment"],
        updates,
        rows,
    )


def _day(value):
    day = value.astimezone(UTC).date()
    return day.isoformat() if connection.vendor == "sqlite" else day


def _upsert_tool_usage(source_id: int, events: list[Event], agents: dict) -> list:
    """Calls per (agent, day, tool, MCP server) of registered agents' tool calls that name their tool;
    for identities no agent claims, calls per (source, identity, tool, MCP server) instead."""
    totals: dict[tuple, list] = {}
    unclaimed: dict[tuple, list] = {}
    for e in events:
        if not e.tool_name:
            continue
        agent = agents.get(e.identity.value)
        if agent is None:
            key = (e.identity.value, e.tool_name, e.tool_server)
            u = unclaimed.get(key)
            if u is None:
                unclaimed[key] = [e.count, e.occurred_at, e.occurred_at]
            else:
                u[0] += e.count
                u[1] = min(u[1], e.occurred_at)
                u[2] = max(u[2], e.occurred_at)
            continue
        key = (agent.pk, e.occurred_at.astimezone(UTC).date(), e.tool_name, e.tool_server)
        t = totals.get(key)
        if t is None:
            totals[key] = [e.count, e.count if e.is_error else 0, e.occurred_at, e.occurred_at]
        else:
            t[0] += e.count
            t[1] += e.count if e.is_error else 0
            t[2] = max(t[2], e.occurred_at)
            t[3] = min(t[3], e.occurred_at)
    rows = [
        [pk, _day(last), tool, server, calls, errors, _dt(last)]
        for (pk, _d, tool, server), (calls, errors, last, _first) in sorted(totals.items())
    ]
    uses: dict[tuple, list] = {}
    for (pk, _d, tool, server), (calls, _errors, last, first) in totals.items():
        use = uses.get((pk, tool, server))
        if use is None:
            uses[(pk, tool, server)] = [calls, first, last]
        else:
            use[0] += calls
            use[1] = min(use[1], first)
            use[2] = max(use[2], last)
    use_rows = [
        [pk, tool, server, calls, _dt(first), _dt(last)]
        for (pk, tool, server), (calls, first, last) in sorted(uses.items())
    ]
    unclaimed_rows = [
        [source_id, identity, tool, server, calls, _dt(first), _dt(last)]
        for (identity, tool, server), (calls, first, last) in sorted(unclaimed.items())
    ]
    return (
        _upsert(
            DailyToolUsage,
            ["agent_id", "day", "tool_name", "server_address", "calls", "errors", "last_called_at"],
            ["agent_id", "day", "tool_name", "server_address"],
            {"calls": _add("calls"), "errors": _add("errors"), "last_called_at": _later("last_called_at")},
            rows,
        )
        + _upsert(
            ToolUse,
            ["agent_id", "tool_name", "server_address", "calls", "first_called_at", "last_called_at"],
            ["agent_id", "tool_name", "server_address"],
            {
                "calls": _add("calls"),
                "first_called_at": _earlier("first_called_at"),
                "last_called_at": _later("last_called_at"),
            },
            use_rows,
        )
        + _upsert(
            UnregisteredToolUse,
            ["source_id", "identity", "tool_name", "server_address", "calls", "first_called_at", "last_called_at"],
            ["source_id", "identity", "tool_name", "server_address"],
            {
                "calls": _add("calls"),
                "first_called_at": _earlier("first_called_at"),
                "last_called_at": _later("last_called_at"),
            },
            unclaimed_rows,
        )
    )


def _upsert_evaluations(events: list[Event], agents: dict) -> list:
    """Results per (agent, day, evaluation name): counts, score sum, minimum and maximum, latest label."""
    totals: dict[tuple, dict] = {}
    for e in events:
        if not e.evaluations:
            continue
        agent = agents.get(e.identity.value)
        if agent is None:
            continue
        for ev in e.evaluations:
            key = (agent.pk, e.occurred_at.astimezone(UTC).date(), ev.name)
            t = totals.setdefault(
                key, {"results": 0, "scored": 0, "sum": 0.0, "min": None, "max": None, "label": "", "at": None}
            )
            t["results"] += 1
            if ev.score is not None:
                t["scored"] += 1
                t["sum"] += ev.score
                t["min"] = ev.score if t["min"] is None else min(t["min"], ev.score)
                t["max"] = ev.score if t["max"] is None else max(t["max"], ev.score)
            if t["at"] is None or e.occurred_at >= t["at"]:
                t["at"] = e.occurred_at
                t["label"] = ev.label or t["label"]
    rows = [
        [pk, _day(t["at"]), name, t["results"], t["scored"], t["sum"], t["min"], t["max"], t["label"], _dt(t["at"])]
        for (pk, _d, name), t in sorted(totals.items())
    ]

    def least(col, pick):
        # NULL (no score yet) on either side gives the other side.
        x, t = f"{{x}}.{_q(col)}", f"{{t}}.{_q(col)}"
        return f"CASE WHEN {t} IS NULL OR ({x} IS NOT NULL AND {x} {pick} {t}) THEN {x} ELSE {t} END"

    return _upsert(
        DailyEvaluation,
        ["agent_id", "day", "name", "results", "scored", "score_sum"]
        + ["score_min", "score_max", "last_label", "last_at"],
        ["agent_id", "day", "name"],
        {
            "results": _add("results"),
            "scored": _add("scored"),
            "score_sum": _add("score_sum"),
            "score_min": least("score_min", "<"),
            "score_max": least("score_max", ">"),
            "last_label": f"CASE WHEN {{x}}.{_q('last_label')} <> '' "
            f"AND {{x}}.{_q('last_at')} >= {{t}}.{_q('last_at')} "
            f"THEN {{x}}.{_q('last_label')} ELSE {{t}}.{_q('last_label')} END",
            "last_at": _later("last_at"),
        },
        rows,
    )


@dataclass
class Rejection:
    """One item refused at ingest: why, in words, and the item as sent."""

    reason: str
    message: str
    payload: object = None


# Rejected items kept in full per source (the source page shows them).
REJECTED_ITEMS_KEPT = 50
# Rows a source's day of intake is spread over (IngestDay): concurrent requests of one source add to
# different rows, instead of queueing on one row until each commit before them.
INGEST_DAY_SHARDS = 16


def _tally(source_id: int, now: datetime, received: int, rejections: list[Rejection]) -> list:
    """The day's intake of the source (received, rejected), the rejections per reason, and the rejected
    items in full (the last REJECTED_ITEMS_KEPT; older ones are trimmed in the same round trip)."""
    day = now.astimezone(UTC).date()
    day_value = day.isoformat() if connection.vendor == "sqlite" else day
    statements = _upsert(
        IngestDay,
        ["source_id", "day", "shard", "received", "rejected"],
        ["source_id", "day", "shard"],
        {"received": _add("received"), "rejected": _add("rejected")},
        [[source_id, day_value, random.randrange(INGEST_DAY_SHARDS), received, len(rejections)]],  # noqa: S311
    )
    if not rejections:
        return statements
    per_reason: dict[str, int] = defaultdict(int)
    for r in rejections:
        per_reason[r.reason] += 1
    statements += _upsert(
        RejectionCount,
        ["source_id", "day", "reason", "count"],
        ["source_id", "day", "reason"],
        {"count": _add("count")},
        [[source_id, day_value, reason, n] for reason, n in sorted(per_reason.items())],
    )
    received_at = _dt(now)
    kept = rejections[-REJECTED_ITEMS_KEPT:]
    items_insert, params = _rows_insert(
        RejectedItem,
        ["source_id", "received_at", "reason", "message", "payload"],
        [[source_id, received_at, r.reason, r.message[:2000], _json(r.payload)] for r in kept],
    )
    if connection.vendor == "postgresql":
        # unnest() hands jsonb over as text arrays: cast the column back.
        items_insert = items_insert.replace("%s::jsonb[]", "%s::text[]::jsonb[]")
    statements.append((items_insert, params))
    table = _q(RejectedItem._meta.db_table)
    statements.append(
        (
            f"DELETE FROM {table} WHERE {_q('source_id')} = %s AND {_q('id')} NOT IN "  # noqa: S608
            f"(SELECT {_q('id')} FROM {table} WHERE {_q('source_id')} = %s "
            f"ORDER BY {_q('received_at')} DESC, {_q('id')} DESC LIMIT {REJECTED_ITEMS_KEPT})",
            [source_id, source_id],
        )
    )
    return statements


# A rejected item is kept as sent up to this many characters of JSON; past it, its beginning only.
PAYLOAD_MAX_CHARS = 20000


def _json(value) -> str:
    """An item as sent, as JSON PostgreSQL stores: NUL characters removed (jsonb cannot hold them) and a
    large item kept as the beginning of its text, never cut mid-document (cut JSON is not JSON)."""
    text = json.dumps(_without_nul(value if value is not None else {}), default=str)
    if len(text) > PAYLOAD_MAX_CHARS:
        text = json.dumps({"truncated": True, "size": len(text), "head": text[: PAYLOAD_MAX_CHARS - 100]})
    return text


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(str(k)): _without_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nul(v) for v in value]
    return value


def record_rejections(source_id: int, rejections: list[Rejection], *, received: int = 0, now=None) -> None:
    """Count refused items (and items received) for a source outside a batch store: a whole request
    refused, or held spans the trace window closed on."""
    now = now or timezone.now()
    with transaction.atomic():
        _execute_all(_tally(source_id, now, received, rejections))


def store_events(
    source_id: int,
    events: list[Event],
    *,
    now: datetime | None = None,
    rejections: list[Rejection] | None = None,
    received: int | None = None,
    extra_statements: list | None = None,
) -> StoreResult:
    """Store validated events of one source in one transaction and update what the checks read.

    ``rejections`` (what was refused from the same request) and ``received`` (how many items the
    request carried; by default the events plus the rejections) go to the source's daily intake.
    ``extra_statements`` (sql, params) travel in the same round trip, after the rollups."""
    now = now or timezone.now()
    result = StoreResult()
    rejections = rejections or []
    if received is None:
        received = len(events) + len(rejections)
    if not events:
        if received or rejections or extra_statements:
            with transaction.atomic():
                _execute_all(_tally(source_id, now, received, rejections) + (extra_statements or []))
        return result
    # A repeated id inside one batch is the same event sent twice: keep the first.
    seen_ids: set = set()
    unique: list[Event] = []
    for e in events:
        if e.event_id is not None:
            if e.event_id in seen_ids:
                result.duplicates += 1
                continue
            seen_ids.add(e.event_id)
        unique.append(e)
    with transaction.atomic():
        agents = resolve_agents(e.identity for e in unique)
        stored, inserts = _insert_events(source_id, unique, agents, now)
        result.duplicates += len(unique) - len(stored)
        result.accepted = len(stored)
        statements = _tally(source_id, now, received, rejections) + (extra_statements or [])
        if stored:
            # Built first (the deadlines read the policy), then sent together, in this fixed order.
            statements = (
                inserts
                + _upsert_sightings(source_id, stored, agents)
                + _upsert_monitoring(source_id, stored, agents, now)
                + _upsert_usage(stored, agents)
                + _upsert_tool_usage(source_id, stored, agents)
                + _upsert_evaluations(stored, agents)
                + statements
            )
        _execute_all(statements)
        if stored:
            # An agent's key is fixed once telemetry has reported it (through the key, not an alias).
            reported_keys = {key for e in stored for key in candidate_keys(e.identity)}
            for agent in {a.pk: a for a in agents.values()}.values():
                if agent.key_locked_at is None and agent.key in reported_keys:
                    registry_services.lock_agent_key(agent, seen_at=now)
                    agent.key_locked_at = now
        result.agents = {a.pk for a in agents.values()}
    return result


# For telemetry.traces, which writes its bookkeeping rows in the same round trip as the rollups.
rows_insert = _rows_insert
adapt_datetime = _dt
