"""A slow webhook receiver cannot delay a sweep: real workers, one per queue, routed by the settings.

Marker ``integration``. Two `celery worker` subprocesses with the project's settings, one consuming
only `notifications`, one only `checks`, on a Redis database of their own. The webhook receiver
answers a byte every second (the socket timeout never fires, as with a real receiver that trickles),
so the notifications worker is stuck in the delivery; the sweep, sent by name and routed like beat
sends it, runs to the end in the meantime. Skipped when Redis is unreachable, unless CI=true.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from governance.checks import available_checks
from governance.choices import DeliveryStatus, FindingKind
from governance.models import CheckRun, Finding, WebhookDelivery, WebhookEndpoint
from tests.governance.test_worker import _shadows, _wait_for, process_env

BROKER = os.environ.get("CELERY_QUEUES_INTEGRATION_BROKER", "redis://127.0.0.1:6379/11")
ROOT = Path(__file__).resolve().parents[2]
HOLD_LIMIT_SECONDS = 90

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _probe() -> Celery:
    """A client with the project's routing and nothing else: what beat and the web process publish with."""
    probe = Celery("queues-probe", broker=BROKER)
    probe.conf.task_routes = settings.CELERY_TASK_ROUTES
    probe.conf.task_queues = settings.CELERY_TASK_QUEUES
    probe.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    return probe


@pytest.fixture
def probe():
    if connection.vendor != "postgresql":
        pytest.skip("the workers share the test database, which needs PostgreSQL")
    client = _probe()
    try:
        with client.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            for name in settings.TASK_QUEUES:  # nothing left over from an earlier run
                conn.default_channel.queue_purge(name)
    except Exception as exc:  # noqa: BLE001 (any broker error means: no broker here)
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the Celery broker {BROKER} is unreachable: {exc}")
        pytest.skip(f"Celery broker {BROKER} unreachable")
    return client


@pytest.fixture
def start_worker(tmp_path):
    started = []

    def start(queues: str):
        log_path = tmp_path / f"worker-{queues}.log"
        log = open(log_path, "w")  # noqa: SIM115 (closed below)
        env = process_env(CELERY_BROKER_URL=BROKER)
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queues, "-n", queues]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log, log_path))
        return process, log_path

    yield start
    for process, _log, _path in started:
        process.send_signal(signal.SIGTERM)
    for process, log, _path in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(*workers):
    for process, log_path in workers:
        ready = _wait_for(lambda p=process, lp=log_path: "ready." in lp.read_text() or p.poll() is not None, 60)
        if not ready or process.poll() is not None:
            pytest.fail("a worker did not start:\n" + log_path.read_text()[-3000:])


@pytest.fixture
def slow_receiver():
    """A webhook receiver that, once it has read a delivery, answers a header byte every second until released."""
    arrived, release = threading.Event(), threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the http.server API)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrived.set()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self.wfile.flush()
            deadline = time.monotonic() + HOLD_LIMIT_SECONDS
            while not release.wait(1) and time.monotonic() < deadline:
                self.wfile.write(b"z")
                self.wfile.flush()
            self.wfile.write(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.wfile.flush()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrived, release
    release.set()
    server.shutdown()
    server.server_close()


def test_a_sweep_runs_to_the_end_while_a_slow_webhook_receiver_holds_the_notifications_worker(
    probe, start_worker, slow_receiver, admin
):
    # given a worker per queue, and a webhook delivery due to a receiver that answers a byte a second
    url, arrived, release = slow_receiver
    _wait_ready(start_worker("notifications"), start_worker("checks"))
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(name="slow receiver", url=url, secret="s" * 32)
    finding = Finding.objects.create(
        kind="shadow_agent", severity="high", identity="it.earlier", summary="earlier", opened_at=now
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, finding=finding, event="opened", payload={}, created_at=now, next_attempt_at=now
    )
    _shadows(admin, count=3)
    probe.send_task("governance.deliver_due_webhooks")
    assert arrived.wait(30), "the notifications worker never called the receiver"
    # when the sweep is sent by name while that worker is stuck in the delivery
    sent_at = time.monotonic()
    probe.send_task("governance.run_all_checks")
    # then every check of the sweep succeeds, the shadow agents are findings
    kinds = set(available_checks())
    assert _wait_for(
        lambda: set(CheckRun.objects.filter(status="succeeded").values_list("check_kind", flat=True)) >= kinds,
        timeout=60,
    ), sorted(kinds - set(CheckRun.objects.filter(status="succeeded").values_list("check_kind", flat=True)))
    swept_in = time.monotonic() - sent_at
    assert Finding.objects.open().filter(kind=FindingKind.SHADOW_AGENT).count() == 3
    # and all the while the webhook was still being answered
    assert not release.is_set()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    # when the receiver finishes its answer, then the delivery completes on its own worker
    release.set()
    assert _wait_for(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED, timeout=30)
    print(f"sweep of {len(kinds)} checks finished {swept_in:.1f}s after it was sent, behind a stuck webhook")  # noqa: T201
