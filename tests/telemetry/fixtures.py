"""Fixtures of the telemetry tests: a source with its raw token, and a client that ingests with it."""

import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from telemetry import services as telemetry_services


@pytest.fixture
def source_with_token(admin):
    source, raw = telemetry_services.create_source(actor=admin, name="Gateway EU", kind="gateway")
    return source, raw


@pytest.fixture
def source(source_with_token):
    return source_with_token[0]


@pytest.fixture
def ingest_token(source_with_token):
    return source_with_token[1]


@pytest.fixture
def ingest(ingest_token):
    """POST a JSON batch with the source's token; returns the response."""
    client = Client()

    def send(events, *, token=ingest_token, raw=None, content_type="application/json", **headers):
        """``token=None`` sends no Authorization header at all."""
        body = raw if raw is not None else json.dumps({"events": events})
        auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return client.post(
            "/api/v1/telemetry/events", data=body, content_type=content_type, headers={**auth, **headers}
        )

    return send


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
