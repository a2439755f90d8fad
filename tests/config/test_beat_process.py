"""Two real `celery beat` processes against the test database: the second refuses to start.

Marker ``integration``. The broker is kombu's filesystem transport in a temporary folder (beat only
publishes), the database is this run's test database, so it needs PostgreSQL (a second process
cannot see an in-memory SQLite test database).
"""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from config import beat
from registry import leases
from tests.governance.test_worker import _wait_for, process_env

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def beat_env(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("two beat processes share the test database, which needs PostgreSQL")
    return process_env(
        CELERY_BROKER_URL="filesystem://",
        CELERY_FILESYSTEM_DIR=str(tmp_path / "broker"),
        VAR_DIR=str(tmp_path / "var"),
        LOG_FORMAT="plain",
        BEAT_LEASE_RENEW_SECONDS="1",
        BEAT_LEASE_TTL_SECONDS="5",
    )


def _beat_command(schedule: Path) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "config", "beat", "--schedule", str(schedule), "-l", "info"]


def test_a_second_beat_exits_non_zero_while_the_first_keeps_running(beat_env, tmp_path):
    # given a running beat
    log_path = tmp_path / "beat-1.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    first = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        _beat_command(tmp_path / "schedule-1"), cwd=ROOT, env=beat_env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        assert _wait_for(lambda: "holds the beat lease" in log_path.read_text() or first.poll() is not None, timeout=30)
        assert first.poll() is None, "the first beat did not start:\n" + log_path.read_text()[-3000:]
        holder = leases.current(beat.LEASE_NAME).holder
        assert holder.startswith(f"{socket.gethostname()}:{first.pid}:")
        # when a second beat starts (another schedule file: it could be on another machine)
        second = subprocess.run(  # noqa: S603
            _beat_command(tmp_path / "schedule-2"),
            cwd=ROOT,
            env=beat_env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        # then it exits non-zero and says why, naming the beat that holds the lease
        output = second.stdout + second.stderr
        assert second.returncode == 1, output[-3000:]
        assert "celery beat refused to start" in output
        assert holder in output
        assert "Only one beat may run" in output
        # and the first keeps running and keeps renewing its lease (renewed every second here)
        renewed = leases.current(beat.LEASE_NAME).renewed_at
        assert _wait_for(lambda: leases.current(beat.LEASE_NAME).renewed_at > renewed, timeout=10)
        assert first.poll() is None
        assert leases.current(beat.LEASE_NAME).holder == holder
        # when the first stops cleanly, then it gives the lease back at once
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
        assert leases.current(beat.LEASE_NAME).holder == ""
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        log.close()


def test_after_a_beat_is_killed_the_next_takes_the_lease_once_it_ran_out(beat_env, tmp_path):
    beat_env = {**beat_env, "BEAT_LEASE_TTL_SECONDS": "2"}
    # given a beat killed without a chance to give its lease back
    log_path = tmp_path / "beat-1.log"
    with open(log_path, "w") as log:
        first = subprocess.Popen(  # noqa: S603
            _beat_command(tmp_path / "schedule-1"), cwd=ROOT, env=beat_env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            assert _wait_for(
                lambda: "holds the beat lease" in log_path.read_text() or first.poll() is not None, timeout=30
            )
        finally:
            first.kill()
            first.wait()
    expires_at = leases.current(beat.LEASE_NAME).expires_at
    # when another beat starts once the lease ran out (TTL 2 s here)
    while time.time() < expires_at.timestamp() + 0.5:
        time.sleep(0.2)
    log_path = tmp_path / "beat-2.log"
    with open(log_path, "w") as log:
        second = subprocess.Popen(  # noqa: S603
            _beat_command(tmp_path / "schedule-2"), cwd=ROOT, env=beat_env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            # then it takes the lease and runs
            assert _wait_for(
                lambda: "holds the beat lease" in log_path.read_text() or second.poll() is not None, timeout=30
            )
            assert second.poll() is None, log_path.read_text()[-3000:]
            assert leases.current(beat.LEASE_NAME).holder.startswith(f"{socket.gethostname()}:{second.pid}:")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
