"""The raw events table partitioned by UTC day on PostgreSQL, and the same calls as no-ops elsewhere.

At tens of millions of events a day, deleting expired rows one batch at a
time does not keep up (the deletes, the vacuum behind them and the index
bloat all grow with the table). On PostgreSQL ``telemetry_telemetryevent`` is
therefore ``PARTITION BY RANGE (occurred_at)``, one partition per UTC day
(``telemetry_telemetryevent_p20261207``) plus a DEFAULT partition
(``telemetry_telemetryevent_default``) that catches any event outside the
prepared days, so an event is never refused for lack of a partition:

- ``prepare_partitions`` (beat, hourly) makes sure every day from the
  retention cutoff to ``TELEMETRY_PARTITIONS_AHEAD_DAYS`` ahead has its
  partition. When the default partition already holds rows of a day being
  prepared (PostgreSQL refuses a new partition while the default holds
  matching rows), they move into the new partition in the same transaction.
- ``drop_expired_partitions`` (from ``services.purge_old_events``) detaches and
  drops each day whose every event is past retention: no row-by-row delete.
  Events are thus kept for the retention period rounded up to whole days.
- ``default_partition_rows`` counts what the default partition holds, for
  ``/metrics`` and the operations overview: normally zero, anything else means
  the beat task has not been preparing days.

Every step runs in its own short transaction under a transaction-level
advisory lock (never a session-level lock or ``SET``: the app runs behind
PgBouncer in transaction pooling mode), with a lock timeout so the brief
exclusive locks DDL needs never leave ingest queued behind a long reader.
The migration ``0008_partition_telemetry_events_by_day`` built the table;
SQLite (the demo) keeps a plain table and these functions do nothing there.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

TABLE = "telemetry_telemetryevent"
DEFAULT_PARTITION = f"{TABLE}_default"
DAY_PARTITION = re.compile(rf"^{TABLE}_p(\d{{8}})$")
# Arbitrary constant identifying the partition-maintenance advisory lock.
PARTITION_LOCK_KEY = 7_310_433_001
# How long one step waits for the locks its DDL needs before giving up until the next run.
LOCK_TIMEOUT = "5s"


@dataclass
class PrepareResult:
    created: list[date] = field(default_factory=list)
    moved: int = 0
    skipped: list[date] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": len(self.created),
            "moved_from_default": self.moved,
            "skipped": [d.isoformat() for d in self.skipped],
        }


def day_partition(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def _bound(day: date) -> str:
    """A partition bound literal: midnight UTC of ``day`` (formatted from a date, never from input)."""
    return f"'{day.isoformat()} 00:00:00+00'"


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def is_partitioned() -> bool:
    """True when the events table is a partitioned table (PostgreSQL after the migration)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def partition_days() -> list[date]:
    """The days that have a partition, oldest first (partitions not named by day are left out)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    days = []
    for name in names:
        match = DAY_PARTITION.match(name)
        if match:
            days.append(datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date())
    return sorted(days)


def prepared_days(now: datetime) -> list[date]:
    """Every day that should have a partition at ``now``: from the day holding the retention cutoff
    (ingest accepts events that old) to TELEMETRY_PARTITIONS_AHEAD_DAYS after today, in UTC."""
    today = now.astimezone(UTC).date()
    first = (now - timedelta(days=settings.TELEMETRY_RETENTION_DAYS)).astimezone(UTC).date()
    last = today + timedelta(days=settings.TELEMETRY_PARTITIONS_AHEAD_DAYS)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _lock(cursor) -> None:
    # Transaction-level only (released at commit): safe behind a transaction-pooling PgBouncer.
    cursor.execute(
        "SELECT pg_advisory_xact_lock(%s), set_config('lock_timeout', %s, true)", [PARTITION_LOCK_KEY, LOCK_TIMEOUT]
    )
    # Called inside a longer transaction that wrote events, their deferred foreign-key checks would
    # make PostgreSQL refuse to drop or move a partition: run them now (a no-op in the task's own
    # transaction; SET CONSTRAINTS lasts until the transaction ends).
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _create_day(cursor, day: date) -> int:
    """Create the partition of ``day`` in the caller's transaction; returns the rows moved into it from
    the default partition.

    The partition is built as a plain table and attached, rather than created ``PARTITION OF`` the
    table: attaching locks the parent only against other DDL (SHARE UPDATE EXCLUSIVE), so ingest into
    the other days carries on. The default partition is locked first, so no event of that day can
    land in it between moving its rows out and the attach (which checks the default holds none).
    """
    name = day_partition(day)
    cursor.execute(f'LOCK TABLE "{DEFAULT_PARTITION}" IN ACCESS EXCLUSIVE MODE')
    cursor.execute(f'CREATE TABLE "{name}" (LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)')
    lower, upper = _bound(day), _bound(day + timedelta(days=1))
    cursor.execute(
        f"""WITH moved AS (
                DELETE FROM "{DEFAULT_PARTITION}" WHERE occurred_at >= {lower} AND occurred_at < {upper} RETURNING *
            ) INSERT INTO "{name}" SELECT * FROM moved"""  # noqa: S608 (names and bounds are built here, not input)
    )
    moved = cursor.rowcount
    cursor.execute(f'ALTER TABLE "{TABLE}" ATTACH PARTITION "{name}" FOR VALUES FROM ({lower}) TO ({upper})')
    return moved


def prepare_partitions(*, now: datetime | None = None) -> PrepareResult:
    """Create every missing day partition of the prepared range (see ``prepared_days``).

    Idempotent and safe to run twice at once: each day is created in its own transaction under the
    advisory lock, after checking again that no other run created it meanwhile. A day whose locks
    are not granted within LOCK_TIMEOUT is skipped (reported) and comes at the next run.
    """
    result = PrepareResult()
    if not is_partitioned():
        return result
    now = now or timezone.now()
    missing = sorted(set(prepared_days(now)) - set(partition_days()))
    for day in missing:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                _lock(cursor)
                cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [day_partition(day)])
                if cursor.fetchone()[0]:
                    continue  # another run created it while this one waited for the lock
                result.moved += _create_day(cursor, day)
                result.created.append(day)
        except OperationalError:
            logger.warning("telemetry partition for %s not created (locks not granted); next run", day, exc_info=True)
            result.skipped.append(day)
    return result


def drop_expired_partitions(cutoff: datetime) -> list[date]:
    """Detach and drop every day partition whose whole day is before ``cutoff``; returns the days.
    A day detached by a run that stopped before dropping it is dropped too."""
    dropped: list[date] = []
    for day in sorted(set(partition_days()) | set(_detached_days())):
        if _start_of(day + timedelta(days=1)) > cutoff:
            break
        if drop_day(day):
            dropped.append(day)
    return dropped


def _detached_days() -> list[date]:
    """Days whose table exists but is no longer attached (detached, not yet dropped)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition AND relname ~ %s",
            [DAY_PARTITION.pattern],
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(
        datetime.strptime(DAY_PARTITION.match(name).group(1), "%Y%m%d").replace(tzinfo=UTC).date() for name in names
    )


def drop_day(day: date) -> bool:
    """Detach and drop the partition of ``day`` with every event in it; False if it was not dropped.

    Two short transactions. The detach takes a brief exclusive lock on the table (the concurrent
    form is not allowed beside a default partition), so it waits at most LOCK_TIMEOUT and a day not
    detached now is dropped at the next run. The drop comes after that commit: PostgreSQL unlinks
    the day's files when the dropping transaction commits (tens of milliseconds for a large day),
    and the table's lock is not held meanwhile.
    """
    name = day_partition(day)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _lock(cursor)
            cursor.execute("SELECT relispartition FROM pg_class WHERE oid = to_regclass(%s)", [name])
            row = cursor.fetchone()
            if row is None:
                return False  # another run dropped it
            if row[0]:
                cursor.execute(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{name}"')
        with transaction.atomic(), connection.cursor() as cursor:
            _lock(cursor)
            cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
    except OperationalError:
        logger.warning("telemetry partition %s not dropped (locks not granted); next run", name, exc_info=True)
        return False
    return True


def create_day(day: date) -> int:
    """Create the partition of one day, in its own transaction (the benchmark builds past days with
    it); returns the rows moved into it from the default partition (0 if it existed)."""
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(cursor)
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [day_partition(day)])
        if cursor.fetchone()[0]:
            return 0
        return _create_day(cursor, day)


def delete_expired_default_rows(cutoff: datetime, batch_size: int) -> int:
    """Delete the default partition's events older than ``cutoff``, in batches (it holds few rows)."""
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""DELETE FROM "{DEFAULT_PARTITION}" WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM "{DEFAULT_PARTITION}" WHERE occurred_at < %s LIMIT %s))""",  # noqa: S608
                [cutoff, batch_size],
            )
            deleted = cursor.rowcount
        total += deleted
        if deleted < batch_size:
            return total


def default_partition_rows() -> int | None:
    """Events held by the default partition (outside every prepared day); None without partitions."""
    if not is_partitioned():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{DEFAULT_PARTITION}"')  # noqa: S608
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class Storage:
    """What the operations overview and /metrics show of the partitioned table."""

    first_day: date | None
    last_day: date | None
    partitions: int
    default_rows: int


def storage() -> Storage | None:
    """The day partitions and the default partition's rows (None: the table is not partitioned)."""
    rows = default_partition_rows()
    if rows is None:
        return None
    days = partition_days()
    return Storage(days[0] if days else None, days[-1] if days else None, len(days), rows)
