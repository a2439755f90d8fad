"""The stop in force on every web worker within one second: a real gunicorn with two workers, each
holding its own snapshot that allowed the agent a moment before."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection

from registry import services as registry_services
from tests.runtime.fixtures import ask
from tests.runtime.server import Gunicorn

pytestmark = [pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def server(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("gunicorn workers need a database server they can share")
    gunicorn = Gunicorn(_database_url(), workers=2, log_dir=tmp_path)
    yield gunicorn
    gunicorn.stop()


def _ask_many(url, token, body, n, threads=4):
    def one(_):
        with httpx.Client(timeout=30) as client:
            response = client.post(
                f"{url}/access/v1/evaluation",
                content=json.dumps(body),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            return response.json()["context"]["reason_code"]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(n)))


def test_a_stop_is_in_force_on_both_workers_within_one_second(server, make_agent, owner, gateway):
    # given both workers answered "allowed" from their own snapshot
    agent = make_agent("hr.multi-worker", name="Multi worker")
    _, token = gateway
    body = ask(agent.key, environment="development")
    deadline = time.monotonic() + 60
    while len({pid for pid, path, _ in server.log_lines() if path == "/access/v1/evaluation"}) < 2:
        assert set(_ask_many(server.url, token, body, 16)) == {"allowed"}
        assert time.monotonic() < deadline, "both workers never answered"
    warmed = {pid for pid, path, _ in server.log_lines()}

    # when the owner stops the agent (committed)
    registry_services.stop_agent(agent, actor=owner, reason="Runaway refunds")
    stopped_at = time.monotonic()
    time.sleep(1.0)

    # then one second later every answer from every worker is "stopped"
    before = len(server.log_lines())
    answers = _ask_many(server.url, token, body, 40)
    assert set(answers) == {"stopped"}
    assert time.monotonic() - stopped_at < 5
    answered_by = {pid for pid, path, _ in server.log_lines()[before:] if path == "/access/v1/evaluation"}
    assert len(answered_by) == 2
    assert answered_by == warmed & server.worker_pids()
    # and each worker's log thread wrote the denials without any request waiting for it
    from runtime.models import DenialRecord

    deadline = time.monotonic() + 10
    while not DenialRecord.objects.filter(agent=agent, reason="stopped").exists():
        assert time.monotonic() < deadline, "the workers never flushed their decision log"
        time.sleep(0.2)
    time.sleep(2)  # the last flush of both workers
    assert sum(DenialRecord.objects.filter(agent=agent, reason="stopped").values_list("count", flat=True)) >= 40
