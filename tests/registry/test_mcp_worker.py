"""The scheduled MCP rescan in a real Celery worker: beat's task, sent to a worker subprocess, reads a
live MCP server with the SDK client, records the change, and the mcp_tool_changed check it queues opens
the finding. Marker ``integration``; skipped when the broker is unreachable, unless CI=true.

The worker consumes its own queue and every routed one (the check is queued on commit to `checks`), on a
Redis database of its own so no other suite's worker takes its messages.
"""

import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from governance.models import Finding
from registry import services
from registry.models import McpServer
from tests.governance.test_worker import _wait_for, process_env
from tests.registry.mcp_fixtures import listed

BROKER = os.environ.get("CELERY_MCP_INTEGRATION_BROKER", "redis://127.0.0.1:6379/12")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _broker_reachable() -> bool:
    import socket
    from urllib.parse import urlparse

    url = urlparse(BROKER)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def mcp_worker(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the worker shares the test database, which needs PostgreSQL")
    if not _broker_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the Celery broker {BROKER} is unreachable")
        pytest.skip(f"Celery broker {BROKER} unreachable")
    queue = f"mcp-it-{uuid.uuid4().hex[:8]}"
    env = process_env(CELERY_BROKER_URL=BROKER)
    log_path = tmp_path / "worker.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo"]
        + ["-Q", ",".join([queue, *settings.TASK_QUEUES])]
        + ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    if not _wait_for(lambda: "ready." in log_path.read_text() or process.poll() is not None, timeout=30):
        process.kill()
    if "ready." not in log_path.read_text():
        process.kill()
        pytest.fail("the worker did not start:\n" + log_path.read_text()[-3000:])
    yield queue, log_path
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def test_a_worker_rescans_a_due_server_and_the_change_opens_a_finding(mcp_worker, live_mcp, owner, board, unit):
    queue, log_path = mcp_worker
    # given a server the board approved when it offered one tool, now due for its rescan
    server = services.register_mcp_server(
        actor=owner, key="hr.workday-tools", name="Workday tools", url=live_mcp.url, business_unit=unit
    )
    services.record_mcp_scan(
        server, [listed("read_leave_balance", "Read an employee's remaining leave days.", readOnlyHint=True)]
    )
    services.approve_mcp_server(server, actor=board)
    McpServer.objects.filter(pk=server.pk).update(next_scan_at=timezone.now() - timedelta(seconds=1))

    # when beat's task runs in the worker
    Celery("mcp-probe", broker=BROKER).send_task("registry.scan_mcp_servers", queue=queue)

    # then the worker read the live server's three other tools, and the check it queued opened the finding
    def finding_open():
        return Finding.objects.filter(
            kind="mcp_tool_changed", identity="mcp:hr.workday-tools", resolved_at__isnull=True
        ).exists()

    assert _wait_for(finding_open, timeout=60), log_path.read_text()[-3000:]
    finding = Finding.objects.get(kind="mcp_tool_changed")
    assert sorted(finding.details["added"]) == ["cancel_payroll_run", "ping", "submit_leave_request"]
    server.refresh_from_db()
    assert server.scan_status == "reachable"
    assert server.next_scan_at > timezone.now()
