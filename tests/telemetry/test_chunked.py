"""Bodies sent with ``Transfer-Encoding: chunked`` and no Content-Length (streaming clients, proxies):
read whole under the production server (gunicorn, config/gunicorn.conf.py), with the same size limit,
and never answered 2xx unread where the server cannot say where such a body ends."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from telemetry import endpoints
from telemetry.models import DailyUsage, IngestDay, RejectionCount, TelemetryEvent

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 20_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db):
    """The production server, on a free loopback port, on the test database."""
    port = _free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "SECRET_KEY": "test-secret-key-not-for-production-0123456789abcdefghijklmnop",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CELERY_BROKER_URL": "memory://",
        "EMAIL_BACKEND": "locmem",
        "TELEMETRY_MAX_BODY_BYTES": str(LIMIT),
        "TELEMETRY_INGEST_RATE_PER_MINUTE": "0",
        "DB_CONN_MAX_AGE": "0",
        "LOG_LEVEL": "ERROR",
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                httpx.get(f"{base}/v1/traces", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def _chunks(body: bytes, size: int = 700):
    """A generator body: httpx sends it chunked, with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _batch(n: int, pad: int = 0) -> bytes:
    stamp = timezone.now().isoformat()
    base = {"agent": "claims.assessor", "environment": "prod", "timestamp": stamp, "kind": "invocation"}
    events = [{**base, "event_id": str(i)} for i in range(n)]
    return json.dumps({"events": events, "padding": "x" * pad}).encode()


def test_a_chunked_json_batch_is_read_whole_under_gunicorn(gunicorn, make_agent, source_with_token):
    # given
    agent = make_agent("claims.assessor")
    _source, token = source_with_token
    body = _batch(40)
    # when
    with httpx.Client() as client:
        response = client.post(
            f"{gunicorn}/api/v1/telemetry/events",
            content=_chunks(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
    # then the request really was chunked, and every event was read and stored
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 40
    assert DailyUsage.objects.get(agent=agent, environment="production").invocations == 40


def test_a_chunked_otlp_export_is_read_whole_under_gunicorn(gunicorn, make_agent, source_with_token):
    # given a protobuf export of one agent run
    agent = make_agent("claims.assessor")
    _source, token = source_with_token
    request = trace_service_pb2.ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "claims"
    span = rs.scope_spans.add().spans.add()
    span.name, span.trace_id, span.span_id = "invoke_agent", bytes(range(16)), bytes(range(8))
    span.start_time_unix_nano = time.time_ns() - 1_000_000
    span.end_time_unix_nano = time.time_ns()
    for key, value in (("gen_ai.operation.name", "invoke_agent"), ("gen_ai.agent.id", "claims.assessor")):
        attr = span.attributes.add()
        attr.key, attr.value.string_value = key, value
    # when
    with httpx.Client() as client:
        response = client.post(
            f"{gunicorn}/v1/traces",
            content=_chunks(request.SerializeToString(), size=16),
            headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"},
        )
    # then
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200
    assert not trace_service_pb2.ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    assert DailyUsage.objects.get(agent=agent, environment="unspecified").invocations == 1


def test_a_chunked_body_past_the_limit_is_refused_with_413(gunicorn, make_agent, source_with_token):
    # given a chunked body larger than the limit (which no Content-Length announces)
    make_agent("claims.assessor")
    source, token = source_with_token
    body = _batch(2, pad=LIMIT)
    # when
    with httpx.Client() as client:
        response = client.post(
            f"{gunicorn}/api/v1/telemetry/events",
            content=_chunks(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
    # then nothing was stored, and the refusal is counted for the source
    assert response.status_code == 413
    assert TelemetryEvent.objects.count() == 0
    assert RejectionCount.objects.get(source=source).reason == "too_large"
    assert [d["rejected"] for d in IngestDay.objects.filter(source=source).totals()] == [1]


def test_a_chunked_body_the_server_cannot_delimit_is_refused_with_411(db, source_with_token):
    # given a server that does not promise to end the input at the body's end (no wsgi.input_terminated)
    _source, token = source_with_token
    request = RequestFactory().generic(
        "POST",
        "/api/v1/telemetry/events",
        data=b"",
        # With no data the factory sets no content type: give it as a streaming client would.
        CONTENT_TYPE="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    request.META.pop("CONTENT_LENGTH", None)
    # when
    response = endpoints.batch_events(request)
    # then: not a 2xx for a body nobody read
    assert response.status_code == 411
    assert "Content-Length" in json.loads(response.content)["detail"]
