"""A worker keeps a usable ingest token for a few seconds, so a single-event request reads no token row;
a revocation or a deactivated source still stops it: at once where the change was made, and within
TELEMETRY_TOKEN_CACHE_SECONDS in every other worker."""

import pytest
from django.db import connection
from django.utils import timezone

from telemetry import services as telemetry_services
from telemetry.models import IngestToken, TelemetryEvent, TelemetrySource


def event(n=None, **fields):
    return {
        "agent": "hr.leave-assistant",
        "environment": "production",
        "kind": "heartbeat",
        "timestamp": timezone.now().isoformat(),
        **({"event_id": f"e-{n}"} if n is not None else {}),
        **fields,
    }


@pytest.fixture
def clock(monkeypatch):
    """The monotonic clock the token cache reads, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(telemetry_services.time, "monotonic", lambda: now[0])
    return now


def test_a_known_token_is_not_read_again_within_the_interval(ingest, agent, django_assert_num_queries):
    assert ingest([event(1)]).status_code == 200
    # The alias and agent reads, the policy's cadences, the insert (it reads back what a retry
    # repeated), the four rollups, and the test transaction's savepoint and its release; no token row.
    with django_assert_num_queries(10) as captured:
        assert ingest([event(2)]).status_code == 200
    assert not any("telemetry_ingesttoken" in q["sql"] for q in captured.captured_queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pipeline mode is PostgreSQL's")
def test_a_single_events_writes_are_sent_together(ingest, agent):
    """Its insert cannot conflict (no event id), so it goes with the rollups in one pipeline: sent
    without waiting for each answer, one round trip for the five."""
    from psycopg import pq

    assert ingest([event(1)]).status_code == 200
    seen = []

    def note(execute, sql, params, many, context):
        words = sql.split()
        table = words[2] if words[:2] == ["INSERT", "INTO"] else ""
        seen.append((table, connection.connection.pgconn.pipeline_status == pq.PipelineStatus.ON))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        response = ingest([event(kind="invocation")])
    assert response.json()["accepted"] == 1
    writes = [(table, piped) for table, piped in seen if table]
    assert writes == [
        ('"telemetry_telemetryevent"', True),
        ('"telemetry_sighting"', True),
        ('"telemetry_monitoringstate"', True),
        ('"telemetry_dailyusage"', True),
        ('"telemetry_ingestday"', True),
    ]
    assert TelemetryEvent.objects.count() == 2


def test_revoking_in_this_worker_refuses_the_token_at_once(ingest, agent, source, admin, clock):
    assert ingest([event(1)]).status_code == 200
    telemetry_services.revoke_ingest_token(source.tokens.get(), actor=admin)
    assert ingest([event(2)]).status_code == 401
    assert TelemetryEvent.objects.count() == 1


def test_deactivating_the_source_in_this_worker_refuses_its_tokens_at_once(ingest, agent, source, admin, clock):
    assert ingest([event(1)]).status_code == 200
    telemetry_services.update_source(source, actor=admin, active=False)
    assert ingest([event(2)]).status_code == 401


def test_another_workers_revocation_is_honoured_when_the_interval_ends(ingest, agent, source, settings, clock):
    # given a token this worker has used, revoked elsewhere (a row update no signal here sees)
    settings.TELEMETRY_TOKEN_CACHE_SECONDS = 5
    assert ingest([event(1)]).status_code == 200
    IngestToken.objects.filter(source=source).update(revoked_at="2026-01-01T00:00:00Z")
    # then it is still accepted inside the interval
    clock[0] += 4.9
    assert ingest([event(2)]).status_code == 200
    # and refused once it has passed
    clock[0] += 0.2
    assert ingest([event(3)]).status_code == 401
    assert TelemetryEvent.objects.count() == 2


def test_with_no_interval_every_request_reads_the_token(ingest, agent, source, settings, clock):
    settings.TELEMETRY_TOKEN_CACHE_SECONDS = 0
    assert ingest([event(1)]).status_code == 200
    TelemetrySource.objects.filter(pk=source.pk).update(active=False)
    assert ingest([event(2)]).status_code == 401


def test_last_used_is_still_stamped_once_a_minute(ingest, agent, source, clock, time_machine):
    time_machine.move_to("2026-03-02T12:00:00Z", tick=False)
    assert ingest([event(1)]).status_code == 200
    token = source.tokens.get()
    first = token.last_used_at
    time_machine.move_to("2026-03-02T12:00:30Z", tick=False)
    assert ingest([event(2)]).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first
    time_machine.move_to("2026-03-02T12:01:30Z", tick=False)
    assert ingest([event(3)]).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > first


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_same_statements_sent_again_and_again_are_never_prepared(ingest, agent):
    """A transaction-pooling PgBouncer hands each transaction another server session, where a
    prepared statement would not exist: ingest binds its values server-side but never prepares."""
    for n in range(8):
        assert ingest([event(n)]).status_code == 200
        assert ingest([event(kind="invocation")]).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0
    assert TelemetryEvent.objects.count() == 16
