"""Reads of the portfolio, the exports and the API lists go to the replica; writes and a person's own changes do not.

The replica is the ``replica`` alias of config/test_settings.py: the test
database again, through a connection of its own (``TEST: {"MIRROR": "default"}``).
In an ordinary test the rows a test writes stay inside its transaction on
``default``, so the mirror does not see them: those tests assert on where the
queries went. The ``transaction=True`` tests commit, and read real rows back
through the second connection.
"""

import csv
import io
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import OperationalError, connections, router
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver
from django.utils import timezone
from prometheus_client import REGISTRY

from config import db_router
from governance.services import continuity
from registry import services
from registry.models import Agent, ApiToken, BusinessUnit, Stop

BASE_DIR = Path(__file__).resolve().parents[2]
BOTH = ["default", "replica"]
pytestmark = pytest.mark.django_db(databases=BOTH)


@pytest.fixture(autouse=True)
def _close_the_mirror():
    """The mirror's connection is not one a test case closes; an open one would keep the test database
    from being dropped at the end of the run."""
    yield
    connections["replica"].close()


@pytest.fixture
def replica(settings):
    """Reads routed to the replica alias, with a fresh lag reading."""
    settings.DATABASE_REPLICA_ALIAS = "replica"
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 10
    settings.DATABASE_REPLICA_LAG_CHECK_SECONDS = 5
    settings.DATABASE_REPLICA_STICKY_SECONDS = 15
    db_router.reset_lag_cache()
    yield connections["replica"]
    db_router.reset_lag_cache()


class Seen:
    replica: list[str]
    primary: list[str]

    def read(self, alias: str, table: str) -> bool:
        return any(f'FROM "{table}"' in sql for sql in getattr(self, alias))


@contextmanager
def watch():
    """The statements each connection ran (the replica's lag probe left out)."""
    seen = Seen()
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        yield seen
    seen.replica = [q["sql"] for q in on_replica.captured_queries if "pg_is_in_recovery" not in q["sql"]]
    seen.primary = [q["sql"] for q in on_primary.captured_queries]


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _metrics() -> str:
    return Client().get("/metrics").content.decode()


def _routed(database: str, reason: str) -> float:
    labels = {"database": database, "reason": reason}
    return REGISTRY.get_sample_value("registry_replica_routed_requests_total", labels) or 0.0


@pytest.fixture
def bearer(api_client):
    def use(user):
        _, raw = services.create_api_token(user, actor=user, name="script")
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return api_client

    return use


# --- What is routed ----------------------------------------------------------------------------


def test_the_portfolio_dashboard_reads_the_replica(replica, leadership, client_for, agent):
    as_leadership = client_for(leadership)
    with watch() as seen:
        response = as_leadership.get("/portfolio/")
    assert response.status_code == 200
    assert seen.read("replica", "registry_agent")
    assert not seen.read("primary", "registry_agent")
    # who the person is and what they may do is read from the primary
    assert seen.read("primary", "registry_user") or seen.read("primary", "django_session")
    assert not seen.read("replica", "django_session")


def test_a_streamed_export_reads_the_replica_while_it_is_sent(replica, leadership, client_for, agent):
    as_leadership = client_for(leadership)
    with watch() as seen:
        response = as_leadership.get("/portfolio/export/agents.csv")
        assert response.streaming
        _body(response)
    assert response.status_code == 200
    assert seen.read("replica", "registry_agent")
    assert not seen.read("primary", "registry_agent")


def test_an_api_list_reads_the_replica_and_the_detail_the_primary(replica, owner, agent, bearer):
    client = bearer(owner)
    with watch() as listed:
        # the token's first use touches its last_used_at: bookkeeping, not a change of the person's
        assert client.get("/api/v1/agents/").status_code == 200
    with watch() as detail:
        assert client.get(f"/api/v1/agents/{agent.key}/").status_code == 200
    assert listed.read("replica", "registry_agent")
    assert not listed.read("primary", "registry_agent")
    # the token itself is checked on the primary: a revoked one is refused at once
    assert listed.read("primary", "registry_apitoken")
    assert detail.read("primary", "registry_agent")
    assert detail.replica == []


def test_pages_that_write_or_edit_read_the_primary(replica, owner, client_for, agent):
    as_owner = client_for(owner)
    with watch() as seen:
        assert as_owner.get(f"/agents/{agent.key}/").status_code == 200
    assert seen.replica == []
    assert seen.read("primary", "registry_agent")


def test_without_a_replica_every_read_goes_to_the_primary(settings, leadership, client_for, agent):
    as_leadership = client_for(leadership)
    settings.DATABASE_REPLICA_ALIAS = ""
    with watch() as seen:
        assert as_leadership.get("/portfolio/").status_code == 200
        assert as_leadership.get("/api/v1/agents/").status_code == 200
    assert seen.replica == []
    assert seen.read("primary", "registry_agent")


def test_every_routed_view_name_exists():
    names = set()

    def walk(resolver, namespace=""):
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
            elif pattern.name:
                names.add(namespace + pattern.name)

    walk(get_resolver())
    assert db_router.REPLICA_VIEWS - names == set()


def test_writes_go_to_the_primary_and_only_it_is_migrated(replica):
    unit = BusinessUnit.objects.create(name="Legal", slug="legal")
    assert router.db_for_write(BusinessUnit, instance=unit) == "default"
    assert router.allow_migrate("default", "registry")
    assert not router.allow_migrate("replica", "registry")
    on_replica = BusinessUnit(name="Read", slug="read")
    on_replica._state.db = "replica"
    assert router.allow_relation(on_replica, unit)


def test_tasks_read_the_primary_unless_they_ask_for_the_replica(replica):
    assert router.db_for_read(Agent) == "default"
    with db_router.replica_reads():
        assert router.db_for_read(Agent) == "replica"
        # accounts and permissions never come from the replica
        assert router.db_for_read(ApiToken) == "default"
    assert router.db_for_read(Agent) == "default"


@pytest.mark.parametrize(
    ("sql", "write"),
    [
        ('INSERT INTO "registry_agent" ("key") VALUES (%s)', True),
        ('UPDATE "registry_agent" SET "name" = %s', True),
        ('DELETE FROM "governance_finding" WHERE id = %s', True),
        ('WITH moved AS (UPDATE "x" SET a = 1 RETURNING id) SELECT * FROM moved', True),
        ('SELECT "registry_agent"."id" FROM "registry_agent"', False),
        ('UPDATE "registry_apitoken" SET "last_used_at" = %s WHERE id = %s', False),
        ('UPDATE "django_session" SET "session_data" = %s', False),
    ],
)
def test_what_counts_as_a_write(sql, write):
    assert db_router.is_write(sql) is write


# --- Read-your-writes ----------------------------------------------------------------------------


@pytest.mark.urls("tests.config.replica_urls")
def test_a_read_after_a_write_in_the_same_request_stays_on_the_primary(replica, owner, unit, client_for, monkeypatch):
    monkeypatch.setattr(db_router, "REPLICA_VIEWS", db_router.REPLICA_VIEWS | {"replica-probe"})
    response = client_for(owner).get(f"/replica-probe/{unit.pk}/", {"name": "People"})
    assert response.json() == {"before": "replica", "after": "default", "name": "People"}


def test_the_next_requests_read_the_primary_for_the_sticky_window(replica, owner, client_for, agent):
    client = client_for(owner)
    with time_machine.travel("2026-06-01 09:00Z", tick=False) as clock:
        # given the owner stops their agent from its page
        client.post(f"/agents/{agent.key}/stop/", {"reason": "Paused for review"})
        assert Stop.objects.filter(agent=agent).exists()

        # when they open the portfolio 14 seconds later, then 16 seconds later
        clock.shift(timedelta(seconds=14))
        with watch() as within:
            assert client.get("/portfolio/").status_code == 200
        clock.shift(timedelta(seconds=2))
        with watch() as after:
            assert client.get("/portfolio/").status_code == 200

    # then the first read the primary (their change is there), the second the replica
    assert within.replica == []
    assert within.read("primary", "registry_agent")
    assert after.read("replica", "registry_agent")


def test_an_api_token_client_reads_its_own_change_back(replica, owner, agent, bearer):
    client = bearer(owner)
    with time_machine.travel("2026-06-01 09:00Z", tick=False) as clock:
        renamed = client.patch(f"/api/v1/agents/{agent.key}/", {"name": "Renamed by script"}, format="json")
        assert renamed.status_code == 200
        with watch() as within:
            listed = client.get("/api/v1/agents/")
        clock.shift(timedelta(seconds=16))
        with watch() as after:
            client.get("/api/v1/agents/")
    assert [row["name"] for row in listed.json()["results"]] == ["Renamed by script"]
    assert within.replica == []
    assert after.read("replica", "registry_agent")


def test_another_person_is_not_held_on_the_primary_by_my_write(replica, owner, leadership, agent, client_for):
    client_for(owner).post(f"/agents/{agent.key}/stop/", {"reason": "Paused for review"})
    assert Stop.objects.filter(agent=agent).exists()
    as_leadership = client_for(leadership)
    with watch() as seen:
        assert as_leadership.get("/portfolio/").status_code == 200
    assert seen.read("replica", "registry_agent")


# --- Lag and failures ----------------------------------------------------------------------------


def test_reads_fall_back_to_the_primary_past_the_lag_limit(replica, leadership, client_for, agent, monkeypatch):
    as_leadership = client_for(leadership)
    monkeypatch.setattr(db_router, "measure_lag", lambda: 30.0)
    before = _routed("default", "lag")
    with watch() as seen:
        assert as_leadership.get("/portfolio/").status_code == 200
    assert seen.replica == []
    assert seen.read("primary", "registry_agent")
    assert _routed("default", "lag") == before + 1
    metrics = _metrics()
    assert "registry_replica_lag_seconds 30.0" in metrics
    assert "registry_replica_in_use 0.0" in metrics


def test_reads_use_the_replica_within_the_lag_limit(replica, leadership, client_for, agent, monkeypatch):
    as_leadership = client_for(leadership)
    monkeypatch.setattr(db_router, "measure_lag", lambda: 9.5)
    before = _routed("replica", "fresh")
    with watch() as seen:
        assert as_leadership.get("/portfolio/").status_code == 200
    assert seen.read("replica", "registry_agent")
    assert _routed("replica", "fresh") == before + 1


def test_an_unreachable_replica_is_never_a_500(replica, leadership, client_for, agent, monkeypatch):
    # given a replica nobody answers at
    replica.close()
    monkeypatch.setitem(replica.settings_dict, "PORT", "1")
    monkeypatch.setitem(replica.settings_dict, "HOST", "127.0.0.1")
    before = _routed("default", "unreachable")
    # when leadership opens the portfolio and downloads the catalog
    with CaptureQueriesContext(connections["default"]) as primary:
        page = client_for(leadership).get("/portfolio/")
        export = client_for(leadership).get("/portfolio/export/agents.csv")
        rows = list(csv.DictReader(io.StringIO(_body(export).decode("utf-8-sig"))))
    # then both answer from the primary, and the metrics say the replica is down
    assert (page.status_code, export.status_code) == (200, 200)
    assert [row["key"] for row in rows] == [agent.key]
    assert any('FROM "registry_agent"' in q["sql"] for q in primary.captured_queries)
    assert _routed("default", "unreachable") == before + 2
    metrics = _metrics()
    assert "registry_replica_up 0.0" in metrics
    assert "registry_replica_lag_seconds" not in metrics
    replica.close()


def test_a_replica_failing_mid_request_is_answered_from_the_primary(replica, leadership, client, client_for, agent):
    # the error is logged; the test client would raise it again, a browser only sees the answer
    client.raise_request_exception = False
    as_leadership = client_for(leadership)

    def drop_agent_reads(execute, sql, params, many, context):
        if 'FROM "registry_agent"' in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connections["replica"].execute_wrapper(drop_agent_reads):
        with watch() as seen:
            response = as_leadership.get("/portfolio/")
        # and the next request does not try the replica again until the next lag check
        with watch() as next_time:
            again = as_leadership.get("/portfolio/")
    assert (response.status_code, again.status_code) == (200, 200)
    assert seen.read("primary", "registry_agent")
    assert next_time.replica == []
    assert next_time.read("primary", "registry_agent")
    assert "registry_replica_up 0.0" in _metrics()


def test_a_cache_that_cannot_say_who_wrote_recently_keeps_reads_on_the_primary(
    replica, owner, leadership, agent, client_for, monkeypatch
):
    def refuse(*args, **kwargs):
        raise ConnectionError("cache server away")

    monkeypatch.setattr(db_router.cache, "get", refuse)
    monkeypatch.setattr(db_router.cache, "set", refuse)
    stopped = client_for(owner).post(f"/agents/{agent.key}/stop/", {"reason": "Paused for review"})
    as_leadership = client_for(leadership)
    with watch() as seen:
        assert as_leadership.get("/portfolio/").status_code == 200
    assert stopped.status_code == 302
    assert seen.replica == []
    assert seen.read("primary", "registry_agent")


def test_metrics_show_the_replica_lag(replica, client_for):
    # the mirror is the primary itself: nothing to replay, no lag
    metrics = _metrics()
    assert "registry_replica_up 1.0" in metrics
    assert "registry_replica_lag_seconds 0.0" in metrics
    assert "registry_replica_in_use 1.0" in metrics


def test_metrics_say_nothing_of_a_replica_that_is_not_configured(settings, client_for):
    settings.DATABASE_REPLICA_ALIAS = ""
    assert "registry_replica" not in _metrics().replace("registry_replica_routed_requests", "")


# --- A real second connection ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_committed_rows_are_read_back_through_the_second_connection(replica, world, leadership, client_for):
    as_leadership = client_for(leadership)
    with watch() as seen:
        response = as_leadership.get("/portfolio/export/agents.csv")
        rows = list(csv.DictReader(io.StringIO(_body(response).decode("utf-8-sig"))))
    assert [row["key"] for row in rows] == ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]
    assert seen.read("replica", "registry_agent")
    assert not seen.read("primary", "registry_agent")
    assert connections["replica"].connection is not connections["default"].connection


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_committed_change_is_read_back_from_the_primary_then_the_replica(replica, owner, agent, bearer):
    client = bearer(owner)
    with time_machine.travel("2026-06-01 09:00Z", tick=False) as clock:
        assert client.patch(f"/api/v1/agents/{agent.key}/", {"name": "Renamed"}, format="json").status_code == 200
        with watch() as within:
            first = client.get("/api/v1/agents/").json()["results"]
        clock.shift(timedelta(seconds=16))
        with watch() as after:
            second = client.get("/api/v1/agents/").json()["results"]
    assert [row["name"] for row in first] == [row["name"] for row in second] == ["Renamed"]
    assert within.replica == []
    assert after.read("replica", "registry_agent")


# --- Settings ----------------------------------------------------------------------------------


def _settings_with(**variables) -> subprocess.CompletedProcess:
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps([s.DATABASE_REPLICA_ALIAS, s.DATABASES.get('replica', {}).get('HOST'), "
        "s.DATABASES.get('replica', {}).get('OPTIONS'), s.DATABASE_REPLICA_STICKY_SECONDS]))"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "replica-settings-test",
        "DATABASE_URL": "postgres://postgres@primary.example:5432/agentreg",
        **variables,
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_replica_url_adds_the_replica_alias_with_a_short_connect_timeout():
    result = _settings_with(DATABASE_REPLICA_URL="postgres://postgres@replica.example:5432/agentreg")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["replica", "replica.example", {"connect_timeout": 2}, 15]
    alone = _settings_with()
    assert json.loads(alone.stdout) == ["", None, None, 15]


def test_a_sticky_window_shorter_than_the_lag_limit_is_refused_at_start():
    result = _settings_with(DATABASE_REPLICA_MAX_LAG_SECONDS="30", DATABASE_REPLICA_STICKY_SECONDS="20")
    assert result.returncode != 0
    assert "DATABASE_REPLICA_STICKY_SECONDS must be at least" in result.stderr


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_another_apps_export_reads_committed_rows_through_the_replica(replica, agent, board, client_for):
    # given a committed attestation campaign covering the owner's agent
    campaign = continuity.open_campaign(actor=board, name="Spring", deadline=timezone.now() + timedelta(days=21))
    as_board = client_for(board)
    # when the board downloads who has not answered
    with watch() as seen:
        response = as_board.get(f"/governance/campaigns/{campaign.pk}/not-answered.csv")
        lines = _body(response).decode().strip().splitlines()
    # then the rows came through the replica's connection
    assert lines[1].startswith(f"{agent.key},")
    assert seen.read("replica", "governance_attestation")
    assert not seen.read("primary", "governance_attestation")
