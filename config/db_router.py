"""Reads of the portfolio, the exports and the API's lists go to a streaming replica, when one is configured.

How a read finds its database:

- ``ReplicaReadsMiddleware`` gives every request a ``ReadState`` in a context
  variable. Only GET/HEAD requests to the views named in ``REPLICA_VIEWS``, or
  to the list action of a REST API viewset, are *routed*; every other request
  reads the primary exactly as it would without a replica.
- ``ReplicaRouter.db_for_read`` sends a routed request's reads to the replica,
  except: models that decide who someone is or what they may do (sessions,
  accounts, tokens, groups, object permissions) always read the primary, so a
  revoked token or role is refused at once; a read inside a transaction on the
  primary stays there (it must see its own writes); and once the request has
  written anything, every later read of it stays on the primary.
- Read-your-writes across requests: a request that wrote stamps the time in
  the cache under the person's user id (browsers and API token clients alike,
  so it follows the person across devices and web workers; set ``CACHE_URL``).
  For ``DATABASE_REPLICA_STICKY_SECONDS`` after that, the person's routed
  requests read the primary, so nobody misses their own change.
- Lag: measured on the replica and cached per process for
  ``DATABASE_REPLICA_LAG_CHECK_SECONDS``. Past ``DATABASE_REPLICA_MAX_LAG_SECONDS``,
  or while the replica cannot be reached, routed requests read the primary.
  A replica query that fails mid-request marks the replica down and the
  request is answered again from the primary (routed views only read), so a
  lost replica never costs a 500. Streamed exports whose first bytes have gone
  out cannot be restarted; they fail like any dropped download.
- Writes always go to the primary; migrations run only there.
- Celery tasks read the primary: the portfolio snapshot (every six hours) stores
  figures the trend charts keep for good, so it reads the freshest data, and
  the checks read what they then write. ``replica_reads()`` lets a read-only
  task opt in.

The decision for a routed request is taken at its first routed read, not
when the request arrives: REST API token clients are only known once the
view has authenticated them, and the stamp of their last write is keyed by
their user id.
"""

import contextlib
import contextvars
import logging
import re
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.http import FileResponse, StreamingHttpResponse
from prometheus_client import Counter

logger = logging.getLogger(__name__)

# URL names (namespace:name) whose GET reads the replica, besides every API viewset's list action:
# the portfolio's pages and API views, and every CSV, Excel, PDF or JSON download built from the record.
REPLICA_VIEWS = frozenset(
    {
        "portfolio:dashboard",
        "portfolio:agents",
        "portfolio:maturity",
        "portfolio:unit-maturity",
        "portfolio:export-agents",
        "portfolio:export-findings",
        "portfolio:export-requirements",
        "portfolio:export-chargeback",
        "portfolio:export-workbook",
        "portfolio:export-board-pack",
        "portfolio:export-inventory",
        "governance:campaign-missing-csv",
        "governance:incident-regulator-report",
        "governance:fria-pdf",
        "governance:technical-file",
        "api:portfolio-summary",
        "api:portfolio-dashboard",
        "api:portfolio-maturity",
        "api:incident-regulator-report",
        "api:fundamentalrightsassessment-pdf",
        "api:agent-technical-file",
    }
)
# Who someone is and what they may do is always read from the primary.
PRIMARY_ONLY_APPS = frozenset({"sessions", "auth", "contenttypes", "guardian", "admin"})
PRIMARY_ONLY_MODELS = frozenset(
    {
        "registry.apitoken",
        "registry.scimtoken",
        "registry.agentuserobjectpermission",
        "registry.agentgroupobjectpermission",
    }
)
# Writes that are bookkeeping, not a person's change: a session saved, a token's last use touched.
BOOKKEEPING_TABLES = frozenset({"django_session", "registry_apitoken"})

_WRITE = re.compile(
    r"^\s*(?:(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO)\s+(?:ONLY\s+)?\"?(?P<table>[\w.]+)\"?"
    r"|COPY\b|TRUNCATE\b|CREATE\b|ALTER\b|DROP\b)",
    re.IGNORECASE,
)
_CTE_WRITE = re.compile(r"^\s*WITH\b.*\b(?:INSERT|UPDATE|DELETE)\b", re.IGNORECASE | re.DOTALL)

# The SQL that measures lag on the replica: 0 when it has replayed all it received (an idle primary
# writes nothing, so the last replayed transaction's age would grow without any lag), 0 when the
# alias is not a standby at all, NULL when nothing has been replayed yet (unknown: not used).
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE GREATEST(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
END
"""

ROUTED = Counter(
    "registry_replica_routed_requests_total",
    "Routed requests (portfolio, exports, API lists) by the database their reads went to and why",
    ["database", "reason"],
)


def replica_alias() -> str:
    """The replica's alias, or "" when reads have nowhere else to go."""
    alias = getattr(settings, "DATABASE_REPLICA_ALIAS", "")
    return alias if alias and alias in settings.DATABASES else ""


# --- Lag, cached per process --------------------------------------------------------------------


@dataclass
class _LagReading:
    at: float = float("-inf")
    seconds: float | None = None


_lag = _LagReading()
_lag_lock = threading.Lock()


def measure_lag() -> float | None:
    """Seconds the replica is behind the primary, measured now; None when it cannot be reached."""
    alias = replica_alias()
    if not alias:
        return None
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return 0.0  # Nothing replicates into another engine: a same-file alias is never behind.
    try:
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL)
            (value,) = cursor.fetchone()
    except DatabaseError:
        logger.warning("database replica %r unreachable; reads stay on the primary", alias, exc_info=True)
        with contextlib.suppress(DatabaseError):
            connection.close()
        return None
    return float("inf") if value is None else float(value)


def replica_lag() -> float | None:
    """The lag as last measured by this process, measured again when older than the check interval."""
    interval = getattr(settings, "DATABASE_REPLICA_LAG_CHECK_SECONDS", 5)
    with _lag_lock:
        if time.time() - _lag.at < interval:
            return _lag.seconds
    seconds = measure_lag()
    with _lag_lock:
        _lag.at, _lag.seconds = time.time(), seconds
    return seconds


def mark_replica_down() -> None:
    """A replica query failed: read the primary until the next check."""
    with _lag_lock:
        _lag.at, _lag.seconds = time.time(), None


def reset_lag_cache() -> None:
    with _lag_lock:
        _lag.at, _lag.seconds = float("-inf"), None


def replica_usable() -> tuple[bool, str]:
    """Whether reads may go to the replica now, and the reason when they may not."""
    lag = replica_lag()
    if lag is None:
        return False, "unreachable"
    if lag > settings.DATABASE_REPLICA_MAX_LAG_SECONDS:
        return False, "lag"
    try:
        connections[replica_alias()].ensure_connection()
    except DatabaseError:
        mark_replica_down()
        return False, "unreachable"
    return True, "fresh"


# --- Read-your-writes across requests ------------------------------------------------------------


def _stamp_key(user_id) -> str:
    return f"replica:last-write:{user_id}"


def stamp_write(user_id) -> None:
    """Record that this person just changed something: their next reads stay on the primary."""
    window = settings.DATABASE_REPLICA_STICKY_SECONDS
    try:
        cache.set(_stamp_key(user_id), time.time(), timeout=window + 1)
    except Exception:  # noqa: BLE001 (the cache server is away: the change is saved, say so in the log)
        logger.warning("could not stamp a write for user %s; their next reads may miss it", user_id, exc_info=True)


def wrote_recently(user_id) -> bool:
    """Whether this person wrote within the sticky window (True when the cache cannot say: the primary is safe)."""
    try:
        stamped = cache.get(_stamp_key(user_id))
    except Exception:  # noqa: BLE001
        logger.warning("could not read the write stamp of user %s; reading the primary", user_id, exc_info=True)
        return True
    return stamped is not None and time.time() - stamped < settings.DATABASE_REPLICA_STICKY_SECONDS


# --- The request's state and the router ----------------------------------------------------------


@dataclass
class ReadState:
    """What the router needs to know about the request (or task) running now."""

    routed: bool = False
    request: object | None = None
    wrote: bool = False
    replica_failed: bool = False
    decision: bool | None = None
    reason: str = ""
    counted: bool = False


_current: contextvars.ContextVar[ReadState | None] = contextvars.ContextVar("replica_read_state", default=None)


def _primary_only(model) -> bool:
    meta = model._meta
    label = meta.label_lower
    return (
        meta.app_label in PRIMARY_ONLY_APPS
        or label in PRIMARY_ONLY_MODELS
        or label == settings.AUTH_USER_MODEL.lower()
        or meta.db_table in BOOKKEEPING_TABLES
    )


def _in_transaction(connection) -> bool:
    """Whether code is inside a transaction of its own on this connection (the one a test case wraps
    every test in does not count, as Django's durable atomic blocks do not count it either)."""
    return any(not block._from_testcase for block in connection.atomic_blocks)


def _decide(state: ReadState) -> bool:
    """Take the request's decision once, at its first routed read."""
    state.decision = False  # re-entrancy: reading the user below must not come back here
    user = getattr(state.request, "user", None) if state.request is not None else None
    if user is not None and user.is_authenticated and wrote_recently(user.pk):
        state.reason = "recent_write"
        return False
    usable, reason = replica_usable()
    state.reason = reason
    state.decision = usable
    return usable


class ReplicaRouter:
    """Django database router: see the module docstring."""

    def db_for_read(self, model, **hints):
        state = _current.get()
        alias = replica_alias()
        if state is None or not state.routed or not alias or state.wrote or state.replica_failed:
            return DEFAULT_DB_ALIAS
        if _primary_only(model) or _in_transaction(connections[DEFAULT_DB_ALIAS]):
            return DEFAULT_DB_ALIAS
        if state.decision is None:
            _decide(state)
        if not state.decision:
            return DEFAULT_DB_ALIAS
        return alias

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        ours = {DEFAULT_DB_ALIAS, replica_alias() or DEFAULT_DB_ALIAS}
        if obj1._state.db in ours and obj2._state.db in ours:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


@contextlib.contextmanager
def replica_reads():
    """Run a read-only block (a task, a command) with its reads on the replica, under the same rules."""
    token = _current.set(ReadState(routed=True))
    try:
        yield
    finally:
        _current.reset(token)


def is_write(sql: str) -> bool:
    """Whether a statement changes something a person would expect to read back."""
    match = _WRITE.match(sql)
    if match is None:
        return bool(_CTE_WRITE.match(sql))
    table = (match.group("table") or "").rsplit(".", 1)[-1]
    return table not in BOOKKEEPING_TABLES


def _note_write(state: ReadState):
    def wrapper(execute, sql, params, many, context):
        if not state.wrote and is_write(sql):
            state.wrote = True
        return execute(sql, params, many, context)

    return wrapper


def _note_failure(state: ReadState):
    def wrapper(execute, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except (OperationalError, InterfaceError):
            state.replica_failed = True
            raise

    return wrapper


def _routed(request, view_func) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    actions = getattr(view_func, "actions", None)
    # A viewset's HEAD answers like its GET.
    if actions and actions.get("get") == "list":
        return True
    match = request.resolver_match
    return match is not None and match.view_name in REPLICA_VIEWS


class ReplicaReadsMiddleware:
    """Routes the reads of the portfolio, the exports and the API lists (last in MIDDLEWARE, after auth).

    Without a replica it does nothing. With one it also watches every request's writes on the primary,
    so that its later reads, and the person's next requests for a while, stay there.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        alias = replica_alias()
        if not alias:
            return self.get_response(request)
        state = ReadState(request=request)
        response = self._answer(request, state, alias)
        if state.replica_failed and state.decision:
            # The replica went away mid-request: answer again, from the primary.
            mark_replica_down()
            logger.warning("database replica %r failed during %s; answered from the primary", alias, request.path)
            state = ReadState(request=request, decision=False, reason="unreachable")
            state.routed = True
            response = self._answer(request, state, alias)
        _count(state, alias)
        if state.wrote:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                stamp_write(user.pk)
        if (
            state.routed
            and isinstance(response, StreamingHttpResponse)
            and not isinstance(response, FileResponse)
            and not response.is_async
        ):
            response.streaming_content = _streamed(state, alias, response.streaming_content)
        return response

    def _answer(self, request, state, alias):
        primary, replica = connections[DEFAULT_DB_ALIAS], connections[alias]
        note_write, note_failure = _note_write(state), _note_failure(state)
        primary.execute_wrappers.append(note_write)
        # Outermost, so it sees a failure whichever other wrapper (or the driver) raised it.
        replica.execute_wrappers.insert(0, note_failure)
        token = _current.set(state)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
            replica.execute_wrappers.remove(note_failure)
            primary.execute_wrappers.remove(note_write)

    def process_view(self, request, view_func, view_args, view_kwargs):
        state = _current.get()
        if state is not None and not state.routed:
            state.routed = _routed(request, view_func)


def _count(state: ReadState, alias: str) -> None:
    """Count a routed request once, by where its reads went, as soon as that is decided."""
    if state.routed and state.decision is not None and not state.counted:
        state.counted = True
        ROUTED.labels(alias if state.decision else DEFAULT_DB_ALIAS, state.reason).inc()


def _streamed(state: ReadState, alias: str, content):
    """A streamed export reads its rows while it is sent, after the view returned: under the same state.
    Its first read, and so its routing, may come only then: it is counted when the stream ends."""
    previous = _current.get()
    _current.set(state)
    try:
        yield from content
    finally:
        _current.set(previous)
        _count(state, alias)
