"""The decision log, buffered in the worker and written in bulk.

Deciding writes nothing: each decision adds to in-memory counters (denials per minute and per
(caller, subject, action, resource, environment, reason); allows per day, agent and caller;
unknown subjects per gateway as sightings; each credential's last use). ``flush()`` upserts them
in one round trip every RUNTIME_LOG_FLUSH_MS from a daemon thread of the worker (and at exit),
adding counts to rows already there. A denial storm thus costs one row
per minute per distinct denial, whatever its rate.
"""

import atexit
import logging
import os
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from telemetry.identity import identify

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_buffer: dict = {"denials": {}, "allows": {}, "sightings": {}, "credentials": {}, "since": None}


def _minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def record(decision, ask, credential_id: int, source_id: int, now: datetime) -> None:
    """Count one decision in the buffer (no database)."""
    with _lock:
        if _buffer["since"] is None:
            _buffer["since"] = time.monotonic()
        _buffer["credentials"][credential_id] = now
        if decision.allowed:
            key = (now.date(), decision.agent_id, credential_id)
            _buffer["allows"][key] = _buffer["allows"].get(key, 0) + 1
            return
        key = (
            _minute(now),
            credential_id,
            ask.subject[:300],
            (ask.action or "")[:200],
            (ask.resource_label or "")[:300],
            ask.environment,
            str(decision.code),
        )
        row = _buffer["denials"].get(key)
        if row is None:
            _buffer["denials"][key] = [decision.agent_id, 1, now, now]
        else:
            row[1] += 1
            row[3] = now
        if decision.agent_id is None and ask.subject:
            skey = (ask.subject, ask.subject_name, ask.environment, source_id)
            s = _buffer["sightings"].get(skey)
            if s is None:
                _buffer["sightings"][skey] = [now, now, 1]
            else:
                s[1] = now
                s[2] += 1


def due(now_monotonic: float | None = None) -> bool:
    since = _buffer["since"]
    if since is None:
        return False
    now_monotonic = time.monotonic() if now_monotonic is None else now_monotonic
    return now_monotonic - since >= settings.RUNTIME_LOG_FLUSH_SECONDS


def _take() -> dict:
    with _lock:
        taken = {k: v for k, v in _buffer.items() if k != "since"}
        _buffer.update({"denials": {}, "allows": {}, "sightings": {}, "credentials": {}, "since": None})
    return taken


def flush() -> dict:
    """Write what the buffer holds; returns how many rows of each kind were upserted."""
    from runtime.models import AllowCount, DenialRecord, GatewayCredential
    from telemetry.ingest import Event, _add, _dt, _earlier, _execute_all, _later, _q, _upsert, _upsert_sightings

    taken = _take()
    counts = {name: len(taken[name]) for name in ("denials", "allows", "sightings", "credentials")}
    if not any(counts.values()):
        return counts
    statements = []
    if taken["denials"]:
        rows = [
            [_dt(minute), cred, agent_id, subject, action, resource, env, reason, count, _dt(first), _dt(last)]
            for (minute, cred, subject, action, resource, env, reason), (agent_id, count, first, last) in sorted(
                taken["denials"].items(), key=lambda item: tuple(str(p) for p in item[0])
            )
        ]
        statements += _upsert(
            DenialRecord,
            [
                "minute",
                "credential_id",
                "agent_id",
                "subject",
                "action",
                "resource",
                "environment",
                "reason",
                "count",
                "first_at",
                "last_at",
            ],
            ["minute", "credential_id", "subject", "action", "resource", "environment", "reason"],
            {"count": _add("count"), "first_at": _earlier("first_at"), "last_at": _later("last_at")},
            rows,
        )
    if taken["allows"]:
        rows = [[day, agent_id, cred, count] for (day, agent_id, cred), count in sorted(taken["allows"].items())]
        statements += _upsert(
            AllowCount,
            ["day", "agent_id", "credential_id", "count"],
            ["day", "agent_id", "credential_id"],
            {"count": _add("count")},
            rows,
        )
    by_source: dict[int, list] = {}
    for (subject, name, env, source_id), (first, last, count) in taken["sightings"].items():
        identity = identify(subject, name, None)
        if identity is None:
            continue
        # Two events per identity: the first and last ask, the count carried by the first.
        by_source.setdefault(source_id, []).extend(
            [
                Event(identity=identity, environment=env, kind="invocation", occurred_at=first, count=count),
                Event(identity=identity, environment=env, kind="invocation", occurred_at=last, count=0),
            ]
        )
    for source_id, events in sorted(by_source.items()):
        statements += _upsert_sightings(source_id, events, {})
    table = _q(GatewayCredential._meta.db_table)
    for cred, used in sorted(taken["credentials"].items()):
        statements.append(
            (
                f"UPDATE {table} SET {_q('last_used_at')} = %s WHERE {_q('id')} = %s "  # noqa: S608
                f"AND ({_q('last_used_at')} IS NULL OR {_q('last_used_at')} < %s)",
                [_dt(used), cred, _dt(used)],
            )
        )
    try:
        with transaction.atomic():
            _execute_all(statements)
    except DatabaseError:
        # The log must never take decisions down with it: the counts of this interval are lost, said so.
        logger.exception("decision log flush failed; %s", counts)
        return {name: 0 for name in counts}
    return counts


_flusher = {"pid": None}


def _flush_forever() -> None:
    from django.db import close_old_connections

    while True:
        time.sleep(settings.RUNTIME_LOG_FLUSH_SECONDS)
        try:
            if pending() or _buffer["credentials"]:
                flush()
        except Exception:  # noqa: BLE001 (the thread must outlive a database restart)
            logger.exception("decision log flush failed")
        finally:
            close_old_connections()


def maybe_flush() -> None:
    """Called after each decision request. With RUNTIME_LOG_BACKGROUND (the default) a daemon thread of
    this worker flushes every RUNTIME_LOG_FLUSH_MS, so no request waits for the log; otherwise the
    request that finds the buffer due flushes it."""
    if settings.RUNTIME_LOG_BACKGROUND:
        pid = os.getpid()
        if _flusher["pid"] != pid:  # first decision in this (forked) worker
            with _lock:
                if _flusher["pid"] != pid:
                    _flusher["pid"] = pid
                    threading.Thread(target=_flush_forever, name="decision-log-flush", daemon=True).start()
        return
    if due():
        flush()


def pending() -> int:
    return sum(len(_buffer[name]) for name in ("denials", "allows", "sightings"))


def _flush_at_exit() -> None:
    try:
        if pending() and connection.connection is not None:
            flush()
    except Exception:  # noqa: BLE001 (interpreter shutdown: nothing left to tell)
        logger.exception("decision log flush at exit failed")


atexit.register(_flush_at_exit)
