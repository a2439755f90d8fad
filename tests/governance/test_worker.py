"""A real Celery worker against Redis runs the checks; killing its pool process mid-task redelivers the task.

Marker ``integration``. Skipped when the broker is unreachable, unless CI=true (then it must run).
The worker is a subprocess using the normal settings pointed at this test run's database.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from governance.choices import FindingKind
from governance.models import CheckRun, Finding
from telemetry.identity import identify
from telemetry.ingest import Event, store_events

BROKER = os.environ.get("CELERY_INTEGRATION_BROKER", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _broker_reachable() -> bool:
    url = urlparse(BROKER)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def _need_broker_and_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("the worker test shares the test database, which needs PostgreSQL")
    if not _broker_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the Celery broker {BROKER} is unreachable")
        pytest.skip(f"Celery broker {BROKER} unreachable")


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def process_env(**overrides: str) -> dict:
    """The environment of a worker or beat process these tests start: production settings on the
    test database and the integration broker, mail kept in memory; ``overrides`` win."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        "DB_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": BROKER,
        "SECRET_KEY": "integration-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "EMAIL_BACKEND": "locmem",
        "DEBUG": "false",
        **overrides,
    }


@pytest.fixture
def worker(tmp_path):
    """Start `celery worker` (prefork, one process) on a queue of its own; yield (process, queue, flag path)."""
    queue = f"it-{uuid.uuid4().hex[:8]}"
    flag = tmp_path / "slow"
    env = process_env(INTEGRATION_SLOW_FLAG=str(flag))
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.integration_celery",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "ready." not in (tmp_path / "worker.log").read_text():
        if process.poll() is not None:
            break
        time.sleep(0.2)
    if "ready." not in (tmp_path / "worker.log").read_text():
        process.kill()
        pytest.fail("the worker did not start:\n" + (tmp_path / "worker.log").read_text()[-3000:])
    yield process, queue, flag
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def _client() -> Celery:
    return Celery("integration-probe", broker=BROKER)


def _wait_for(predicate, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def _shadows(admin, count=5):
    from telemetry import services as telemetry_services

    source, _ = telemetry_services.create_source(actor=admin, name=f"It {uuid.uuid4().hex[:6]}", kind="collector")
    store_events(
        source.pk,
        [
            Event(
                identity=identify(f"it.shadow-{i}", None, None),
                environment="production",
                kind="heartbeat",
                occurred_at=timezone.now(),
            )
            for i in range(count)
        ],
    )


def test_a_real_worker_runs_the_checks_and_the_findings_appear(worker, admin):
    # given
    _process, queue, _flag = worker
    _shadows(admin)
    # when the sweep is sent through the broker
    _client().send_task("governance.run_all_checks", queue=queue)
    # then the worker runs every check and the shadow agents are findings
    assert _wait_for(lambda: CheckRun.objects.filter(check_kind="low_adoption", status="succeeded").exists())
    assert Finding.objects.open().filter(kind=FindingKind.SHADOW_AGENT).count() == 5
    assert CheckRun.objects.get(check_kind="shadow_agent").found == 5


def _pool_children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)  # noqa: S603,S607
    return [int(p) for p in out.stdout.split()]


def test_a_task_whose_pool_process_dies_is_redelivered_and_takes_effect_once(worker, admin):
    # given a worker whose next shadow-agent check hangs
    process, queue, flag = worker
    _shadows(admin, count=3)
    flag.write_text(FindingKind.SHADOW_AGENT)
    started = Path(str(flag) + ".started")
    # when the check is sent and its pool process is killed in the middle of it
    _client().send_task("governance.run_check", args=[FindingKind.SHADOW_AGENT], queue=queue)
    assert _wait_for(started.exists), "the task never started"
    child = int(started.read_text())
    assert child in _pool_children(process.pid)
    flag.unlink()
    os.kill(child, signal.SIGKILL)
    # then the message is redelivered (acks_late + reject_on_worker_lost) and runs to the end
    assert _wait_for(
        lambda: CheckRun.objects.filter(check_kind="shadow_agent", status="succeeded").exists(), timeout=60
    )
    # and its effect exists exactly once: one finding per identity, the killed attempt left nothing behind
    assert Finding.objects.filter(kind=FindingKind.SHADOW_AGENT).count() == 3
    runs = list(CheckRun.objects.filter(check_kind="shadow_agent").values_list("status", "found"))
    assert sorted(runs) == [("running", 0), ("succeeded", 3)]
