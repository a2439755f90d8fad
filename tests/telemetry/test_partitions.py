"""Raw events partitioned by day: the days prepared ahead, retention by whole days, the default
partition's events counted and moved into their day, and the SQLite table behind the same calls."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection, connections

from telemetry import partitions, tasks
from telemetry import services as telemetry_services
from telemetry.identity import identify
from telemetry.ingest import Event, store_events
from telemetry.models import TelemetryEvent

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")
sqlite_only = pytest.mark.skipif(connection.vendor == "postgresql", reason="the plain table of SQLite")

# Far from the day the test database was migrated, so no partition of the migration covers it.
NOW = datetime(2027, 6, 15, 10, 0, tzinfo=UTC)
TODAY = NOW.date()


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _event(when, identity="hr.leave-assistant", event_id=None):
    return Event(
        identity=identify(identity, None, None),
        environment="production",
        kind="heartbeat",
        occurred_at=when,
        event_id=event_id,
    )


def _partition_of(**filters) -> str:
    pk = TelemetryEvent.objects.get(**filters).pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM telemetry_telemetryevent WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.fixture
def no_days(db):
    """No day partition at all (inside the test's transaction, so undone after it): only the default
    partition, as on a database whose beat never ran."""
    for day in partitions.partition_days():
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{partitions.TABLE}" DETACH PARTITION "{partitions.day_partition(day)}"')
            cursor.execute(f'DROP TABLE "{partitions.day_partition(day)}"')
    assert partitions.partition_days() == []


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@postgres_only
def test_it_prepares_every_day_from_the_retention_cutoff_to_seven_days_ahead_once(no_days, clock, settings):
    # given
    settings.TELEMETRY_RETENTION_DAYS = 30
    assert django_settings.TELEMETRY_PARTITIONS_AHEAD_DAYS == 7  # the default
    # when
    first = telemetry_services.prepare_event_partitions()
    second = telemetry_services.prepare_event_partitions()
    # then
    expected = _days(TODAY - timedelta(days=30), TODAY + timedelta(days=7))
    assert first.created == expected
    assert partitions.partition_days() == expected
    assert second.created == []
    assert (second.moved, second.skipped) == (0, [])


@postgres_only
def test_the_days_ahead_follow_the_setting(no_days, clock, settings):
    settings.TELEMETRY_RETENTION_DAYS = 2
    settings.TELEMETRY_PARTITIONS_AHEAD_DAYS = 3
    telemetry_services.prepare_event_partitions()
    assert partitions.partition_days() == _days(TODAY - timedelta(days=2), TODAY + timedelta(days=3))


@postgres_only
def test_an_event_outside_the_prepared_days_is_stored_in_the_default_partition_and_counted(
    no_days, clock, ingest, agent
):
    # when an event comes for a day without a partition
    response = ingest([{"agent": agent.key, "timestamp": NOW.isoformat(), "kind": "invocation", "event_id": "e-1"}])
    retry = ingest([{"agent": agent.key, "timestamp": NOW.isoformat(), "kind": "invocation", "event_id": "e-1"}])
    # then it is accepted (never refused), once, held by the default partition and counted
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert retry.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert _partition_of(event_id="e-1") == partitions.DEFAULT_PARTITION
    assert partitions.default_partition_rows() == 1


@postgres_only
def test_default_rows_move_into_their_day_when_its_partition_is_created(no_days, clock, source, settings):
    # given events of today and of ten days ahead while no day is prepared, and one of 40 days ago
    settings.TELEMETRY_RETENTION_DAYS = 30
    store_events(
        source.pk,
        [
            _event(NOW, "a.bot", "today"),
            _event(NOW + timedelta(days=10), "b.bot", "later"),
            _event(NOW - timedelta(days=40), "c.bot", "old"),
        ],
    )
    assert partitions.default_partition_rows() == 3
    # when today's range is prepared
    result = telemetry_services.prepare_event_partitions()
    # then today's event moved into today's partition with its values; the others stay in the default
    assert result.moved == 1
    assert _partition_of(event_id="today") == partitions.day_partition(TODAY)
    moved = TelemetryEvent.objects.get(event_id="today")
    assert (moved.identity, moved.occurred_at, moved.source_id) == ("a.bot", NOW, source.pk)
    assert _partition_of(event_id="later") == partitions.DEFAULT_PARTITION
    assert partitions.default_partition_rows() == 2
    # and a retry of the moved event is still stored once
    again = store_events(source.pk, [_event(NOW, "a.bot", "today")])
    assert (again.accepted, again.duplicates) == (0, 1)
    # and when, ten days on, that later day is prepared, its event moves too
    with time_machine.travel(NOW + timedelta(days=10), tick=False):
        later = telemetry_services.prepare_event_partitions()
    assert later.moved == 1
    assert _partition_of(event_id="later") == partitions.day_partition(TODAY + timedelta(days=10))
    assert partitions.default_partition_rows() == 1  # the 40-day-old one, past retention


@postgres_only
def test_retention_drops_exactly_the_expired_days_and_deletes_the_defaults_expired_rows(
    no_days, clock, source, settings
):
    # given the prepared days, an event early on each of the last 32 days, and one in the default
    settings.TELEMETRY_RETENTION_DAYS = 30
    telemetry_services.prepare_event_partitions()
    store_events(
        source.pk,
        [_event(datetime.combine(TODAY - timedelta(days=n), datetime.min.time(), UTC), f"d{n}.bot") for n in range(31)]
        + [_event(NOW - timedelta(days=45), "old.bot")],
    )
    assert partitions.default_partition_rows() == 1
    # when, two days later, the purge runs
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        result = telemetry_services.purge_old_events()
        task_again = tasks.purge_old_events()
    # then the days wholly before the cutoff (now - 30 days) are dropped, the cutoff's day is kept
    cutoff = NOW + timedelta(days=2) - timedelta(days=30)
    assert result.as_dict() == {"partitions_dropped": 2, "rows_deleted": 1}
    assert task_again == {"partitions_dropped": 0, "rows_deleted": 0}
    assert partitions.partition_days()[0] == cutoff.date()
    assert partitions.partition_days() == _days(cutoff.date(), TODAY + timedelta(days=7))
    kept = set(TelemetryEvent.objects.values_list("identity", flat=True))
    assert kept == {f"d{n}.bot" for n in range(29)}  # d29 and d30 were on the dropped days
    assert partitions.default_partition_rows() == 0


@postgres_only
def test_a_day_detached_by_an_interrupted_purge_is_dropped_at_the_next(no_days, clock, settings):
    # given the prepared days, the oldest detached by a purge that stopped before dropping it
    settings.TELEMETRY_RETENTION_DAYS = 30
    telemetry_services.prepare_event_partitions()
    expired = partitions.day_partition(TODAY - timedelta(days=30))
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{partitions.TABLE}" DETACH PARTITION "{expired}"')
    # when the next purge runs, a day later
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        result = telemetry_services.purge_old_events()
    # then the detached table is gone, and it was the only expired day
    assert result.partitions_dropped == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [expired])
        assert cursor.fetchone()[0] is None
    assert partitions.partition_days()[0] == TODAY - timedelta(days=29)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_create_each_day_once():
    # given the day partitions that exist now
    before = set(partitions.partition_days())
    barrier = threading.Barrier(2)
    results, errors = [], []

    def prepare():
        try:
            barrier.wait()
            results.append(partitions.prepare_partitions(now=NOW))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=prepare) for _ in range(2)]
    try:
        # when two runs start at the same moment, each on its own connection
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # then both succeeded, and every day was created by exactly one of them
        assert errors == []
        created = [day for r in results for day in r.created]
        expected = _days(NOW.date() - timedelta(days=django_settings.TELEMETRY_RETENTION_DAYS), TODAY + timedelta(7))
        assert sorted(created) == sorted(set(expected) - before)
        assert set(partitions.partition_days()) == before | set(expected)
    finally:
        for day in set(partitions.partition_days()) - before:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP TABLE "{partitions.day_partition(day)}"')


@postgres_only
def test_the_default_partition_count_is_a_gauge_in_metrics(no_days, clock, client, source, settings):
    # given two events outside every prepared day, then today's range prepared
    store_events(source.pk, [_event(NOW + timedelta(days=20), "a.bot"), _event(NOW + timedelta(days=21), "b.bot")])
    settings.TELEMETRY_RETENTION_DAYS = 30
    telemetry_services.prepare_event_partitions()
    # when Prometheus scrapes
    text = client.get("/metrics").content.decode()
    # then
    assert "registry_telemetry_default_partition_events 2.0" in text
    assert "registry_telemetry_partition_days_ahead 7.0" in text


@postgres_only
def test_the_operations_overview_shows_the_days_and_the_events_outside_them(
    no_days, clock, client_for, admin, source, settings, django_assert_max_num_queries
):
    # given
    settings.TELEMETRY_RETENTION_DAYS = 30
    telemetry_services.prepare_event_partitions()
    store_events(source.pk, [_event(NOW + timedelta(days=20), "a.bot")])
    client = client_for(admin)
    # when
    with django_assert_max_num_queries(20):
        html = client.get("/governance/overview/").content.decode()
    # then
    assert (
        '<a class="stat" href="#storage-h" data-figure="default_partition_events"><span class="value">1</span>' in html
    )
    assert '<dd data-figure="partition_days">38, 16 May 2027 to 22 Jun 2027</dd>' in html
    assert "7 days after today" in html


def test_the_beat_schedule_prepares_partitions_and_purges():
    entries = {e["task"] for e in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"telemetry.prepare_event_partitions", "telemetry.purge_old_events"} <= entries


@sqlite_only
def test_sqlite_keeps_a_plain_table_behind_the_same_calls(clock, source, settings, client):
    # given events of 40 and 10 days ago, in a plain table
    settings.TELEMETRY_RETENTION_DAYS = 30
    store_events(source.pk, [_event(NOW - timedelta(days=40), "old.bot"), _event(NOW - timedelta(days=10), "new.bot")])
    # when the partition task and the purge run
    prepared = tasks.prepare_event_partitions()
    purged = telemetry_services.purge_old_events(batch_size=1)
    # then nothing is partitioned, and the expired row is deleted by rows
    assert prepared == {"created": 0, "moved_from_default": 0, "skipped": []}
    assert partitions.is_partitioned() is False
    assert partitions.default_partition_rows() is None
    assert purged.as_dict() == {"partitions_dropped": 0, "rows_deleted": 1}
    assert list(TelemetryEvent.objects.values_list("identity", flat=True)) == ["new.bot"]
    assert "registry_telemetry_default_partition_events" not in client.get("/metrics").content.decode()
