"""Health, metrics, JSON logs and the request id travelling into Celery tasks."""

import json
import logging

import pytest
from celery import shared_task

from config.logging import JsonFormatter
from registry import audit
from registry.models import AuditEvent


def test_healthz_reports_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


def test_healthz_answers_503_when_the_broker_is_unreachable(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert response.json()["checks"]["database"]["ok"] is True


def test_metrics_count_requests_and_read_the_catalog(client, agent):
    client.get("/accounts/login/")
    response = client.get("/metrics")
    text = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert 'registry_http_requests_total{method="GET",status="200"}' in text
    assert "registry_http_request_duration_seconds_bucket" in text
    assert 'route="login"' in text
    assert 'registry_agents{lifecycle="proposed"} 1.0' in text
    assert "registry_audit_events " in text


def test_metrics_refuse_remote_callers_without_the_token(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    # a proxied request is remote even when the proxy itself is local
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403


def test_metrics_accept_the_bearer_token_from_anywhere(client, db, settings):
    settings.METRICS_TOKEN = "scrape-me-0123456789"
    ok = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-me-0123456789")
    wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer nope")
    assert ok.status_code == 200
    assert wrong.status_code == 403


def test_log_lines_are_json_with_the_request_id():
    # given a log record emitted while a request with id "req-12345678" runs
    token = audit.correlation_id_var.set("req-12345678")
    try:
        record = logging.LogRecord("registry.test", logging.WARNING, __file__, 1, "agent %s lapsed", ("x",), None)
        line = JsonFormatter().format(record)
    finally:
        audit.correlation_id_var.reset(token)
    # then it is one JSON object carrying the id and a UTC time
    entry = json.loads(line)
    assert entry["message"] == "agent x lapsed"
    assert entry["level"] == "WARNING"
    assert entry["request_id"] == "req-12345678"
    assert entry["ts"].endswith("+00:00")


@shared_task(name="tests.record_from_task")
def record_from_task(user_pk):
    from registry.models import User

    return audit.record("test.from_task", actor=None, target=User.objects.get(pk=user_pk)).correlation_id


def test_the_request_id_travels_into_a_task_through_the_message_headers(owner, settings):
    # given the id a request set
    from config.celery import _attach_request_id, _restore_request_id

    token = audit.correlation_id_var.set("req-abcdef12")
    headers: dict = {}
    try:
        _attach_request_id(headers=headers)
    finally:
        audit.correlation_id_var.reset(token)
    assert headers == {"request_id": "req-abcdef12"}

    # when a worker runs the task with those headers (Celery exposes headers on task.request)
    record_from_task.push_request(request_id="req-abcdef12", id="t-1")
    try:
        _restore_request_id(task=record_from_task)
        correlation = record_from_task.run(owner.pk)
    finally:
        record_from_task.pop_request()
        audit.correlation_id_var.set("")

    # then the task's audit row carries the request's id
    assert correlation == "req-abcdef12"
    assert AuditEvent.objects.get(event_type="test.from_task").correlation_id == "req-abcdef12"


@pytest.mark.parametrize("missing", ["Finding", "CheckRun", "TelemetryEvent"])
def test_metrics_tolerate_missing_upper_layer_tables(client, db, monkeypatch, missing):
    from config import metrics

    real = metrics._model
    monkeypatch.setattr(metrics, "_model", lambda name: None if name == missing else real(name))
    assert client.get("/metrics").status_code == 200
