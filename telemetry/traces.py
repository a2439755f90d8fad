"""Attribution across OTLP exports: a child span and its agent span sent in different exports.

A batch span processor flushes every few seconds, so a long agent run sends its
``chat`` and ``execute_tool`` children in one export and its ``invoke_agent``
span in a later one (or the other way round). Within the trace window
(TELEMETRY_TRACE_WINDOW_SECONDS, 15 minutes by default):

- every span of a named agent's trace but model calls (leaves) is remembered
  with its identity (``SpanOwner``), so a child arriving later finds its agent;
- a child whose ancestry stops at a span this export lacks is held
  (``PendingSpan``, not counted yet) until an export brings that span;
- when the window closes on a held child, ``close_trace_window`` counts it as
  rejected (``unattributed``) for its source and keeps it among the rejected
  items: never dropped in silence.

Every child is stored as an event once (its trace and span id is the event id),
whichever way it arrived. When the agent span carries token totals, they count
and its children's tokens do not.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from telemetry import ingest
from telemetry.choices import EventKind, RejectionReason
from telemetry.identity import Identity
from telemetry.ingest import Evaluation, Event, Rejection, record_rejections, store_events
from telemetry.models import PendingSpan, SpanOwner

logger = logging.getLogger(__name__)

# Held children completed one level at a time (a child of a child held in an earlier export …).
MAX_CASCADE = 8


def window() -> timedelta:
    return timedelta(seconds=settings.TELEMETRY_TRACE_WINDOW_SECONDS)


@dataclass(slots=True)
class Owner:
    identity: Identity
    agent_totals: bool
    tool_call: bool = False  # an execute_tool span: the MCP tools/call span inside it is the same call


def _owner_of_row(row: SpanOwner) -> Owner:
    return Owner(Identity(row.identity, row.agent_name, row.service_name, row.by_name), row.agent_totals, row.tool_call)


def _inside_counted_call(mcp_parent: str, waiting_for: str, owner: Owner | None, wraps: bool = False) -> bool:
    """An MCP tools/call span whose parent (the span it waits for) is a framework's execute_tool span:
    one call with it, already counted there (the same rule as within one export)."""
    return bool(mcp_parent) and mcp_parent == waiting_for and (wraps or (owner is not None and owner.tool_call))


def _lend_server(events: list[Event], key: tuple, tool_name: str, tool_server: str) -> None:
    """Give the wrapping execute_tool span's event (``key``) the MCP span's server (and tool name, if
    it has none), as within one export."""
    event_id = f"{key[0]}:{key[1]}"[:100]
    for event in events:
        if event.event_id == event_id:
            event.tool_server = event.tool_server or tool_server
            event.tool_name = event.tool_name or tool_name
            return


def _event_of_held(row: PendingSpan, owner: Owner) -> Event:
    zero = row.kind != EventKind.INVOCATION and row.agent_totals is None and owner.agent_totals
    return Event(
        identity=owner.identity,
        environment=row.environment,
        environment_label=row.environment_label,
        kind=row.kind,
        occurred_at=row.occurred_at,
        is_error=row.is_error,
        latency_ms=row.latency_ms,
        input_tokens=0 if zero else row.input_tokens,
        output_tokens=0 if zero else row.output_tokens,
        event_id=f"{row.trace_id}:{row.span_id}"[:100],
        tool_name=row.tool_name,
        tool_server=row.tool_server,
        evaluations=tuple(Evaluation(name, score, label) for name, score, label in row.evaluations or ()),
    )


def _known_owners(source_id: int, pairs: set) -> dict:
    """(trace, span) -> Owner for the recorded spans among ``pairs`` (one query)."""
    if not pairs:
        return {}
    traces = {t for t, _ in pairs}
    spans = {s for _, s in pairs}
    rows = SpanOwner.objects.filter(source_id=source_id, trace_id__in=traces, span_id__in=spans).order_by()
    return {(r.trace_id, r.span_id): _owner_of_row(r) for r in rows if (r.trace_id, r.span_id) in pairs}


def _held_waiting_for(source_id: int, pairs: set) -> list[PendingSpan]:
    """Held children waiting for one of ``pairs`` (trace, span); locked so two exports completing the
    same child cannot both store it (the event id would skip the second anyway)."""
    if not pairs or not PendingSpan.objects.filter(source_id=source_id).exists():
        # Most exports find nothing held: one index probe instead of the long IN lists.
        return []
    traces = {t for t, _ in pairs}
    spans = {s for _, s in pairs}
    rows = (
        PendingSpan.objects.select_for_update(skip_locked=True)
        .filter(source_id=source_id, trace_id__in=traces, waiting_for__in=spans)
        .order_by("pk")
    )
    return [r for r in rows if (r.trace_id, r.waiting_for) in pairs]


def store_conversion(source_id: int, conversion, *, now: datetime | None = None):
    """Store one OTLP export: its attributed events, the held children it completes (from earlier
    exports), its own children whose agent came earlier, and hold the rest. One transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        events = list(conversion.events)
        owners: dict = {
            (o.trace_id, o.span_id): Owner(o.identity, o.agent_totals, o.tool_call)
            for o in conversion.owners
            if o.trace_id
        }
        new_owners = dict(owners)

        # 1. This export's spans whose ancestor came in an earlier export (any span: a plain one between
        # the agent span and its children must pass the agent on to children still to come).
        dangling = [
            (s, c)
            for s in conversion.spans.values()
            if (c := conversion.chains.get(id(s))) and c.missing and not c.identity
        ]
        earlier = _known_owners(source_id, {(s.trace_id, c.missing) for s, c in dangling})
        still_pending = []
        for child in conversion.pending:
            owner = earlier.get((child.trace_id, child.waiting_for))
            if owner is None:
                still_pending.append(child)
                continue
            if _inside_counted_call(child.mcp_parent, child.waiting_for, owner):
                continue  # its execute_tool span came earlier and was counted: one call
            event = child.event
            event.identity = owner.identity
            if event.kind != EventKind.INVOCATION and child.agent_totals is None and owner.agent_totals:
                event.input_tokens = event.output_tokens = 0
            events.append(event)
        # Every span of this export below such an ancestor now has an owner too.
        for span, chain in dangling:
            owner = earlier.get((span.trace_id, chain.missing))
            if owner is not None:
                totals = chain.agent_totals if chain.agent_totals is not None else owner.agent_totals
                key = (span.trace_id, span.span_id)
                new_owners[key] = Owner(owner.identity, bool(totals), key in conversion.wrappers)

        # 2. Children held from earlier exports that this export completes, level by level.
        completed: list[int] = []
        moved: list[PendingSpan] = []
        frontier = set(conversion.spans) | set(new_owners)
        for _level in range(MAX_CASCADE):
            held = [r for r in _held_waiting_for(source_id, frontier) if r.pk not in completed]
            if not held:
                break
            frontier = set()
            for row in held:
                key = (row.trace_id, row.waiting_for)
                owner = new_owners.get(key)
                span = conversion.spans.get(key)
                if _inside_counted_call(row.mcp_parent, row.waiting_for, owner, key in conversion.wrappers):
                    # Its execute_tool span is here (or was completed just now): one call, counted there.
                    completed.append(row.pk)
                    _lend_server(events + [p.event for p in still_pending], key, row.tool_name, row.tool_server)
                    continue
                if owner is None and span is not None:
                    chain = conversion.chains.get(id(span))
                    if chain is not None and chain.missing:
                        # Its ancestor's ancestor is still to come: wait for that one now.
                        row.waiting_for = chain.missing
                        if row.agent_totals is None:
                            row.agent_totals = chain.agent_totals
                        moved.append(row)
                        continue
                completed.append(row.pk)
                if owner is None:
                    continue  # its ancestry ends at a root no agent names: not an agent's span
                events.append(_event_of_held(row, owner))
                totals = row.agent_totals if row.agent_totals is not None else owner.agent_totals
                new_owners[(row.trace_id, row.span_id)] = Owner(
                    owner.identity, bool(totals), row.kind == EventKind.TOOL_CALL and not row.mcp_parent
                )
                frontier.add((row.trace_id, row.span_id))

        # The owners travel with the rollups, in one round trip (they are most of an export's rows).
        store_events(
            source_id,
            events,
            now=now,
            rejections=conversion.rejections,
            received=conversion.received,
            extra_statements=_remember(source_id, new_owners, now),
        )
        if completed:
            PendingSpan.objects.filter(pk__in=completed).delete()
        PendingSpan.objects.bulk_update(moved, ["waiting_for", "agent_totals"], batch_size=1000)
        _hold(source_id, still_pending, now)


OWNER_COLUMNS = [
    "source_id",
    "trace_id",
    "span_id",
    "identity",
    "agent_name",
    "service_name",
    "by_name",
    "agent_totals",
    "tool_call",
    "received_at",
]


def _remember(source_id: int, owners: dict, now: datetime) -> list:
    """The INSERT statements recording the owners (a re-sent export's spans are skipped)."""
    received = ingest.adapt_datetime(now)
    rows = [
        [
            source_id,
            trace_id[:32],
            span_id[:16],
            o.identity.value,
            o.identity.agent_name,
            o.identity.service_name,
            o.identity.by_name,
            o.agent_totals,
            o.tool_call,
            received,
        ]
        for (trace_id, span_id), o in sorted(owners.items())
        if trace_id and span_id
    ]
    statements = []
    for start in range(0, len(rows), ingest.INSERT_CHUNK):
        sql, params = ingest.rows_insert(SpanOwner, OWNER_COLUMNS, rows[start : start + ingest.INSERT_CHUNK])
        statements.append((sql + " ON CONFLICT DO NOTHING", params))
    return statements


def _hold(source_id: int, pending: list, now: datetime) -> None:
    if not pending:
        return
    PendingSpan.objects.bulk_create(
        [
            PendingSpan(
                source_id=source_id,
                trace_id=p.trace_id[:32],
                span_id=p.span_id[:16],
                waiting_for=p.waiting_for[:16],
                kind=p.event.kind,
                occurred_at=p.event.occurred_at,
                received_at=now,
                environment=p.event.environment,
                environment_label=p.event.environment_label,
                is_error=p.event.is_error,
                latency_ms=p.event.latency_ms,
                input_tokens=p.event.input_tokens,
                output_tokens=p.event.output_tokens,
                agent_totals=p.agent_totals,
                tool_name=p.event.tool_name,
                mcp_parent=p.mcp_parent[:16],
                tool_server=p.event.tool_server,
                evaluations=[[e.name, e.score, e.label] for e in p.event.evaluations],
                payload=p.payload,
            )
            for p in pending
        ],
        # A re-sent export holds its children once.
        ignore_conflicts=True,
        batch_size=1000,
    )


@dataclass
class WindowResult:
    attributed: int = 0
    unattributed: int = 0
    forgotten_owners: int = 0

    def as_dict(self) -> dict:
        return {
            "attributed": self.attributed,
            "unattributed": self.unattributed,
            "forgotten_owners": self.forgotten_owners,
        }


def close_trace_window(*, now: datetime | None = None) -> WindowResult:
    """Held children past the window: attributed if their ancestor was recorded meanwhile (two exports
    of one trace stored at the same moment cannot see each other), else counted as rejected
    (unattributed) for their source. Then forget owners past the window."""
    now = now or timezone.now()
    cutoff = now - window()
    result = WindowResult()
    by_source: dict[int, list[PendingSpan]] = {}
    for row in PendingSpan.objects.older_than(cutoff).order_by("source_id", "pk")[:10_000]:
        by_source.setdefault(row.source_id, []).append(row)
    for source_id, rows in by_source.items():
        with transaction.atomic():
            locked = list(
                PendingSpan.objects.select_for_update(skip_locked=True)
                .filter(pk__in=[r.pk for r in rows])
                .order_by("pk")
            )
            owners = _known_owners(source_id, {(r.trace_id, r.waiting_for) for r in locked})
            events, rejections = [], []
            for row in locked:
                owner = owners.get((row.trace_id, row.waiting_for))
                if _inside_counted_call(row.mcp_parent, row.waiting_for, owner):
                    continue  # its execute_tool span was counted: one call
                if owner is not None:
                    events.append(_event_of_held(row, owner))
                    continue
                rejections.append(
                    Rejection(
                        RejectionReason.UNATTRIBUTED,
                        f"span {row.span_id} ({row.get_kind_display().lower()}): its agent span "
                        f"({row.trace_id}:{row.waiting_for}) did not arrive within "
                        f"{settings.TELEMETRY_TRACE_WINDOW_SECONDS // 60} minutes",
                        row.payload,
                    )
                )
            if events:
                # Counted as received when they were held: only stored now.
                store_events(source_id, events, now=now, received=0)
            if rejections:
                record_rejections(source_id, rejections, received=0, now=now)
            PendingSpan.objects.filter(pk__in=[r.pk for r in locked]).delete()
            result.attributed += len(events)
            result.unattributed += len(rejections)
    result.forgotten_owners, _ = SpanOwner.objects.older_than(cutoff).delete()
    if result.unattributed:
        logger.info("trace window closed on %s unattributed child spans", result.unattributed)
    return result
