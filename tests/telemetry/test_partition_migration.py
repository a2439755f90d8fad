"""The migration that partitions the raw events by day, run on a database holding events, both ways."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from telemetry import partitions
from telemetry.identity import identify
from telemetry.ingest import Event, store_events

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

BEFORE = ("telemetry", "0007_merge_latency_histogram")
AFTER = ("telemetry", "0008_partition_telemetry_events_by_day")
NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
COLUMNS = (
    "id, source_id, event_id, identity, agent_id, environment, environment_label, kind, occurred_at, received_at, "
    "count, is_error, latency_ms, input_tokens, output_tokens, cost"
)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def _migrate_to_the_latest():
    """Every telemetry migration after the partitioning one too: the code under test (ingest) is today's."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("telemetry"))


def _rows():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {COLUMNS}, tableoid::regclass::text FROM telemetry_telemetryevent ORDER BY id")  # noqa: S608
        return cursor.fetchall()


def _one(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def _insert(source_id, agent_id, event_id, occurred_at, identity="hr.leave-assistant"):
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO telemetry_telemetryevent (source_id, event_id, identity, agent_id, environment,
                 environment_label, kind, occurred_at, received_at, count, is_error, latency_ms, input_tokens,
                 output_tokens, cost)
               VALUES (%s, %s, %s, %s, 'production', 'prod', 'invocation', %s, %s, 2, true, 12.5, 100, 20, 0.25)
               RETURNING id""",
            [source_id, event_id, identity, agent_id, occurred_at, NOW],
        )
        return cursor.fetchone()[0]


def test_the_migration_keeps_every_event_in_its_day_and_can_be_reversed(source, agent):
    try:
        # given the plain table of the previous migration, holding events of several days: with and
        # without an event id, with and without an agent, one older than retention
        _migrate(BEFORE)
        assert _one("SELECT relkind FROM pg_class WHERE oid = 'telemetry_telemetryevent'::regclass") == "r"
        days_ago = [0, 1, 3, 29, 45]
        for n in days_ago:
            when = NOW - timedelta(days=n, minutes=n)
            _insert(source.pk, agent.pk, f"evt-{n}", when)
            _insert(source.pk, None, None, when, identity=f"shadow-{n}")
        before = _rows()
        last_id = max(row[0] for row in before)
        # when the migration runs (at NOW)
        with time_machine.travel(NOW, tick=False):
            _migrate(AFTER)
        # then the table is partitioned by range of occurred_at, keyed by (id, occurred_at)
        assert _one("SELECT relkind FROM pg_class WHERE oid = 'telemetry_telemetryevent'::regclass") == "p"
        assert _one("SELECT pg_get_partkeydef('telemetry_telemetryevent'::regclass)") == "RANGE (occurred_at)"
        assert (
            _one("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'telemetry_telemetryevent_pkey'")
            == "PRIMARY KEY (id, occurred_at)"
        )
        # and every row is there with its values, each in its day's partition
        after = _rows()
        assert [row[:-1] for row in after] == [row[:-1] for row in before]
        assert [row[-1] for row in after] == [partitions.day_partition(row[8].astimezone(UTC).date()) for row in after]
        # and every day from the retention cutoff to seven days ahead is prepared, plus the days holding data
        days = set(partitions.partition_days())
        today = NOW.date()
        assert {today - timedelta(days=n) for n in range(31)} <= days
        assert {today + timedelta(days=n) for n in range(8)} <= days
        assert (today - timedelta(days=45)) in days
        assert _one("SELECT to_regclass(%s) IS NOT NULL", [partitions.DEFAULT_PARTITION])
        # and the indexes and constraints are back under their names
        indexes = {
            row
            for row in _one(
                "SELECT array_agg(indexrelid::regclass::text) FROM pg_index "
                "WHERE indrelid = 'telemetry_telemetryevent'::regclass"
            )
        }
        assert {"telemetry_event_occurred_idx", "telemetry_event_agent_idx", "telemetry_event_id_once"} <= indexes
        constraints = _one(
            "SELECT array_agg(conname::text ORDER BY conname) FROM pg_constraint "
            "WHERE conrelid = 'telemetry_telemetryevent'::regclass AND contype IN ('c', 'f')"
        )
        assert "telemetry_event_kind_valid" in constraints
        assert sum(name.endswith("_fk_registry_agent_id") for name in constraints) == 1
        # and the ids continue where they stopped, and a retry of a stored event is still stored once
        _migrate_to_the_latest()
        result = store_events(
            source.pk,
            [
                Event(
                    identity=identify("hr.leave-assistant", None, None),
                    environment="production",
                    kind="invocation",
                    occurred_at=NOW - timedelta(days=1, minutes=1),
                    event_id="evt-1",
                ),
                Event(
                    identity=identify("hr.leave-assistant", None, None),
                    environment="production",
                    kind="invocation",
                    occurred_at=NOW,
                    event_id="evt-new",
                ),
            ],
            now=NOW,
        )
        assert (result.accepted, result.duplicates) == (1, 1)
        assert _one("SELECT id FROM telemetry_telemetryevent WHERE event_id = 'evt-new'") > last_id
        assert partitions.default_partition_rows() == 0

        # when the migration is reversed
        _migrate(BEFORE)
        # then the table is plain again, keyed by id, with every row and its values
        assert _one("SELECT relkind FROM pg_class WHERE oid = 'telemetry_telemetryevent'::regclass") == "r"
        assert (
            _one("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'telemetry_telemetryevent_pkey'")
            == "PRIMARY KEY (id)"
        )
        reversed_rows = _rows()
        assert [row[:-1] for row in reversed_rows][: len(before)] == [row[:-1] for row in before]
        assert len(reversed_rows) == len(before) + 1
        assert {row[-1] for row in reversed_rows} == {"telemetry_telemetryevent"}
        leftovers = "SELECT count(*) FROM pg_class WHERE relname ~ '^telemetry_telemetryevent_(p[0-9]{8}|default)$'"
        assert _one(leftovers) == 0
    finally:
        # the database ends as the other tests expect it: migrated, with partitions around today
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM telemetry_telemetryevent")
        _migrate(BEFORE)
        _migrate_to_the_latest()
