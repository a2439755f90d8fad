"""Ingest is throttled per source: a runaway source gets 429 + Retry-After; other sources carry on."""

from django.test import Client

from telemetry import services as telemetry_services
from telemetry.models import TelemetryEvent


def test_a_source_over_its_rate_gets_429_and_another_source_is_unaffected(ingest, admin, settings):
    # given a limit of three requests a minute
    settings.TELEMETRY_INGEST_RATE_PER_MINUTE = 3
    # when one source sends four batches
    statuses = [ingest([]).status_code for _ in range(4)]
    # then the fourth is refused with a time to retry, and nothing of it is stored
    assert statuses == [200, 200, 200, 429]
    refused = ingest([])
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "requests this minute" in refused.json()["detail"]
    # and a second source still gets through
    _, other_token = telemetry_services.create_source(actor=admin, name="Collector US", kind="collector")
    response = Client().post(
        "/api/v1/telemetry/events",
        data='{"events": []}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {other_token}"},
    )
    assert response.status_code == 200


def test_otlp_export_over_the_rate_gets_429_in_otlp_shape(ingest_token, settings, db):
    settings.TELEMETRY_INGEST_RATE_PER_MINUTE = 1
    client = Client()

    def export():
        return client.post(
            "/v1/traces",
            data="{}",
            content_type="application/json",
            headers={"Authorization": f"Bearer {ingest_token}"},
        )

    assert export().status_code == 200
    response = export()
    assert response.status_code == 429
    assert response["Retry-After"]
    assert response.json()["code"] == 8  # RESOURCE_EXHAUSTED
    assert TelemetryEvent.objects.count() == 0


def test_zero_means_no_limit(ingest, settings):
    settings.TELEMETRY_INGEST_RATE_PER_MINUTE = 0
    assert all(ingest([]).status_code == 200 for _ in range(5))
