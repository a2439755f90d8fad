"""The JSON batch endpoint: what is stored, what is refused, and that retries count once."""

import gzip
import json

import pytest
import time_machine
from django.utils import timezone

from registry.models import AuditEvent
from telemetry import services as telemetry_services
from telemetry.models import (
    DailyUsage,
    IngestDay,
    MonitoringState,
    RejectedItem,
    RejectionCount,
    Sighting,
    TelemetryEvent,
)


@pytest.fixture
def frozen():
    with time_machine.travel("2026-03-02T12:00:00Z", tick=False) as traveller:
        yield traveller


def event(**fields):
    base = {
        "agent": "hr.leave-assistant",
        "environment": "production",
        "timestamp": "2026-03-02T11:00:00Z",
        "kind": "invocation",
    }
    base.update(fields)
    return base


def test_it_stores_a_batch_and_updates_sightings_usage_and_monitoring(frozen, ingest, agent, source):
    # when
    response = ingest(
        [
            event(input_tokens=100, output_tokens=20, cost=0.05, latency_ms=900),
            event(kind="tool_call", timestamp="2026-03-02T11:05:00Z"),
            event(kind="error", timestamp="2026-03-02T11:10:00Z"),
            event(kind="heartbeat", environment="prod", timestamp="2026-03-02T11:30:00Z"),
        ]
    )
    # then
    assert response.status_code == 200
    assert response.json() == {"accepted": 4, "duplicates": 0, "rejected": []}
    sighting = Sighting.objects.get()
    assert (sighting.identity, sighting.environment, sighting.agent, sighting.source) == (
        "hr.leave-assistant",
        "production",
        agent,
        source,
    )
    assert sighting.event_count == 4
    assert sighting.first_seen_at.isoformat() == "2026-03-02T11:00:00+00:00"
    assert sighting.last_seen_at.isoformat() == "2026-03-02T11:30:00+00:00"
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.invocations, usage.tool_calls, usage.errors, usage.heartbeats) == (1, 1, 1, 1)
    assert (usage.input_tokens, usage.output_tokens, str(usage.cost)) == (100, 20, "0.050000")
    assert usage.average_latency_ms == 900
    state = MonitoringState.objects.get(agent=agent)
    assert state.last_seen_at.isoformat() == "2026-03-02T11:30:00+00:00"
    assert state.deadline_at is None  # a proposed agent is not watched
    agent.refresh_from_db()
    assert agent.key_locked_at is not None
    assert AuditEvent.objects.filter(agent=agent, event_type="agent.changed", after__has_key="key_locked_at").exists()


def test_a_repeated_event_id_is_stored_and_counted_once(frozen, ingest, agent):
    # given
    batch = [event(event_id="evt-1"), event(event_id="evt-2")]
    ingest(batch)
    # when the collector retries the same batch, with one new event
    response = ingest([*batch, event(event_id="evt-3")])
    # then
    assert response.json() == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert TelemetryEvent.objects.count() == 3
    assert DailyUsage.objects.get(agent=agent).invocations == 3
    assert Sighting.objects.get().event_count == 3


def test_it_accepts_the_valid_rest_of_a_batch_and_names_each_bad_event(frozen, ingest, agent, source):
    # when
    response = ingest(
        [
            event(),
            event(timestamp="2026-03-04T12:00:00Z"),
            event(timestamp="2025-12-01T00:00:00Z"),
            event(environment="moon"),
            event(kind="party"),
            event(timestamp="yesterday"),
            "not an object",
            event(agent=None),
            event(count=-1),
        ]
    )
    # then
    body = response.json()
    assert response.status_code == 200
    # an unknown environment label is no fault: kept raw, filed under unspecified
    assert body["accepted"] == 2
    errors = {r["index"]: r["errors"] for r in body["rejected"]}
    assert 3 not in errors
    assert "more than a day in the future" in errors[1]["timestamp"]
    assert "retention" in errors[2]["timestamp"]
    assert "Unknown kind" in errors[4]["kind"]
    assert "ISO 8601" in errors[5]["timestamp"]
    assert "JSON object" in errors[6]["event"]
    assert "agent" in errors[7]
    assert "count" in errors[8]
    assert TelemetryEvent.objects.count() == 2
    assert TelemetryEvent.objects.get(environment_label="moon").environment == "unspecified"
    # and the source's day counts what it sent and what was refused, per reason, with the items in full
    day = IngestDay.objects.filter(source=source).totals()
    assert [(d["received"], d["rejected"]) for d in day] == [(9, 7)]
    assert dict(RejectionCount.objects.filter(source=source).values_list("reason", "count")) == {
        "bad_time": 3,
        "invalid_field": 3,
        "no_identity": 1,
    }
    items = list(RejectedItem.objects.filter(source=source).order_by("id"))
    assert len(items) == 7
    assert items[0].payload["timestamp"] == "2026-03-04T12:00:00Z"
    assert items[0].reason == "bad_time"
    assert "event 1: timestamp" in items[0].message
    assert items[4].payload == "not an object"


def test_a_framework_uuid_id_is_identified_by_name_and_service(frozen, ingest):
    # when two process restarts report different random ids
    ingest(
        [
            event(agent="0b6f1a4e-5d6c-4c0e-9a39-1b1f0f4a9c11", agent_name="Triage bot", service="helpdesk"),
            event(agent="7c9e6679-7425-40de-944b-e07fc1f90ae7", agent_name="Triage bot", service="helpdesk"),
        ]
    )
    # then they are one identity
    assert list(Sighting.objects.values_list("identity", "event_count")) == [("Triage bot@helpdesk", 2)]


@pytest.mark.parametrize("token", [None, "ing_not-a-real-token", "agr_personal-token", ""])
def test_it_refuses_a_missing_or_unknown_token(frozen, ingest, agent, token):
    response = ingest([event()], token=token)
    assert response.status_code == 401
    assert "token" in response.json()["detail"]
    assert TelemetryEvent.objects.count() == 0


def test_it_refuses_a_revoked_token_and_an_inactive_source(frozen, ingest, agent, source, admin):
    # given
    token = source.tokens.get()
    telemetry_services.revoke_ingest_token(token, actor=admin)
    # when
    response = ingest([event()])
    # then
    assert response.status_code == 401
    assert AuditEvent.objects.filter(event_type="ingest_token.revoked").count() == 1
    # and a fresh token of an inactive source is refused too
    _token, raw = telemetry_services.create_ingest_token(source, actor=admin)
    telemetry_services.update_source(source, actor=admin, active=False)
    assert ingest([event()], token=raw).status_code == 401
    assert TelemetryEvent.objects.count() == 0


def test_it_refuses_malformed_json_wrong_type_and_oversized_bodies(frozen, ingest, agent, settings):
    assert ingest(None, raw="{not json").status_code == 400
    assert ingest(None, raw=json.dumps({"evts": []})).status_code == 400
    assert ingest(None, raw="<xml/>", content_type="text/xml").status_code == 415
    settings.TELEMETRY_MAX_BODY_BYTES = 1000
    response = ingest([event(agent="x" * 50) for _ in range(30)])
    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["detail"]
    assert TelemetryEvent.objects.count() == 0


def test_it_refuses_more_than_5000_events(frozen, ingest, agent):
    response = ingest([{"agent": "a"}] * 5001)
    assert response.status_code == 413
    assert "5000" in response.json()["detail"]


def test_it_reads_gzip_and_refuses_a_gzip_bomb(frozen, ingest, agent, settings):
    # given
    body = gzip.compress(json.dumps({"events": [event()]}).encode())
    # when
    response = ingest(None, raw=body, **{"Content-Encoding": "gzip"})
    # then
    assert response.json()["accepted"] == 1
    settings.TELEMETRY_MAX_BODY_BYTES = 10_000
    bomb = gzip.compress(b'{"events": [' + b" " * 1_000_000 + b"]}")
    assert ingest(None, raw=bomb, **{"Content-Encoding": "gzip"}).status_code == 413
    assert ingest(None, raw=b"not gzip", **{"Content-Encoding": "gzip"}).status_code == 400


def test_an_ingest_token_on_any_other_endpoint_is_forbidden(frozen, client, ingest_token, agent):
    for path in ("/api/v1/agents/", "/agents/", f"/api/v1/agents/{agent.key}/", "/api/v1/telemetry/sightings/"):
        response = client.get(path, headers={"Authorization": f"Bearer {ingest_token}"})
        assert response.status_code == 403, path
        assert "only send telemetry" in response.json()["detail"]


def test_a_later_report_moves_monitoring_forward_and_an_old_one_does_not(frozen, ingest, agent):
    ingest([event(timestamp="2026-03-02T11:00:00Z")])
    ingest([event(timestamp="2026-03-01T09:00:00Z", environment="staging")])
    state = MonitoringState.objects.get(agent=agent)
    assert state.last_seen_at.isoformat() == "2026-03-02T11:00:00+00:00"
    assert state.last_environment == "production"


def test_token_last_used_is_stamped(frozen, ingest, source):
    assert source.tokens.get().last_used_at is None
    ingest([event(agent="unknown.bot")])
    assert source.tokens.get().last_used_at == timezone.now()
