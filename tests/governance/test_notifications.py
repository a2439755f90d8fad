"""Telling people: owner e-mail once per finding, one board digest a day, signed webhooks with retries."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from governance import checks, notifications
from governance.choices import FindingKind
from governance.models import DigestLog, Finding, WebhookDelivery
from governance.services import findings as finding_services
from registry.models import Agent


@pytest.fixture
def orphan_finding(agent, owner):
    owner.email = "olivia@example.com"
    owner.save()
    Agent.objects.filter(pk=agent.pk).update(lifecycle="production", production_since=timezone.now())
    checks.run_check(FindingKind.NO_SUCCESS_METRIC)
    return Finding.objects.get(kind=FindingKind.NO_SUCCESS_METRIC)


def test_the_owner_is_emailed_once_per_finding(orphan_finding, django_capture_on_commit_callbacks):
    # when the notifier runs twice
    first = notifications.notify_owners()
    second = notifications.notify_owners()
    # then one e-mail, the finding stamped, the history says so
    assert (first, second) == (1, 0)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["olivia@example.com"]
    assert "Leave assistant" in mail.outbox[0].subject
    orphan_finding.refresh_from_db()
    assert orphan_finding.notified_at is not None
    assert orphan_finding.events.filter(kind="notified").count() == 1


def test_the_board_digest_goes_once_a_day(orphan_finding, board):
    board.email = "bea@example.com"
    board.save()
    assert notifications.send_board_digest() == 1
    assert notifications.send_board_digest() == 0
    assert len(mail.outbox) == 1
    assert "1 open findings" in mail.outbox[0].subject
    assert DigestLog.objects.count() == 1


class Receiver(BaseHTTPRequestHandler):
    """A local webhook receiver: fails the first ``failures`` requests with 503, then accepts."""

    failures = 0
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        if len(type(self).received) <= type(self).failures:
            self.send_response(503)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_webhooks_are_signed_retried_with_backoff_and_sent_once(receiver, admin, agent, settings):
    # given an endpoint that fails twice, then recovers
    Receiver.failures = 2
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 10
    settings.WEBHOOK_BACKOFF_CAP_SECONDS = 25
    secret = "s3cret-for-the-receiver"
    finding_services.create_webhook(
        actor=admin, name="SIEM", url=f"http://127.0.0.1:{receiver.server_port}/hook", secret=secret
    )
    Agent.objects.filter(pk=agent.pk).update(lifecycle="production", production_since=timezone.now())
    checks.run_check(FindingKind.NO_SUCCESS_METRIC)  # queues (and, eagerly, tries) the delivery
    delivery = WebhookDelivery.objects.get()
    # when the due deliveries are attempted until done
    now = timezone.now()
    outcomes = []
    for _ in range(5):
        now += timedelta(seconds=30)
        outcomes.append(notifications.deliver_due(now=now))
    # then it was retried after failures, with growing bounded waits, and delivered exactly once
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert delivery.attempts == 3
    assert [a["status"] for a in delivery.attempt_log] == [503, 503, 204]
    assert len(Receiver.received) == 3
    headers, body = Receiver.received[-1]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Signature-256"] == expected
    assert json.loads(body)["finding"]["kind"] == "no_success_metric"
    # and running the check again queues nothing new
    checks.run_check(FindingKind.NO_SUCCESS_METRIC)
    assert WebhookDelivery.objects.count() == 1


def test_a_webhook_gives_up_after_the_last_attempt(receiver, admin, agent, settings):
    Receiver.failures = 100
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    finding_services.create_webhook(
        actor=admin, name="Down", url=f"http://127.0.0.1:{receiver.server_port}/", secret="x" * 16
    )
    Agent.objects.filter(pk=agent.pk).update(lifecycle="production", production_since=timezone.now())
    checks.run_check(FindingKind.NO_SUCCESS_METRIC)
    now = timezone.now()
    for _ in range(6):
        now += timedelta(hours=2)
        notifications.deliver_due(now=now)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert len(Receiver.received) == 3


def test_backoff_is_exponential_bounded_and_jittered(settings):
    waits = [notifications.backoff(n, base=10, cap=100) for n in range(1, 8)]
    assert 5 <= waits[0] <= 10
    assert 20 <= waits[2] <= 40
    assert all(w <= 100 for w in waits)
