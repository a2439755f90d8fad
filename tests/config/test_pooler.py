"""Running behind PgBouncer in transaction pooling mode (``DATABASE_POOLER=pgbouncer``).

- The setting's effects, read in a fresh process with production settings: server-side cursors off
  (an ``iterator()`` opens no cursor on the server), prepared statements off; a bad value refused.
- Exports and the audit walk still read a chunk at a time without server-side cursors (keyset chunks).
- Marker ``integration``, in phase 3 of scripts/test.sh only (DATABASE_URL names a PgBouncer): the test
  database really is reached through PgBouncer, in transaction mode.
"""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import audit
from registry.chunked import in_chunks
from registry.models import Agent
from tests.pooler import admin_console, console_rows

BASE_DIR = Path(__file__).resolve().parents[2]

# Prints: the DISABLE_SERVER_SIDE_CURSORS setting, psycopg's prepare_threshold on the open connection,
# and how many cursors the server holds while an iterator() is half read.
PROBE = """
import django
django.setup()
from django.contrib.contenttypes.models import ContentType
from django.db import connection
rows = ContentType.objects.order_by("pk").iterator(chunk_size=1)
next(rows)
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM pg_cursors")
    open_cursors = cursor.fetchone()[0]
print(connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"], connection.connection.prepare_threshold, open_cursors)
"""


def _settings_process(code: str, **extra: str) -> subprocess.CompletedProcess:
    s = connection.settings_dict
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x7Kq2-production-like-secret-9f8e7d6c5b4a3210-ZyXwVuTsRqPoNmLkJiHg",
        "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
        **extra,
    }
    return subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("server-side cursors and prepared statements are PostgreSQL's")


def test_declaring_pgbouncer_turns_off_server_side_cursors_and_prepared_statements(postgres_only):
    # given the same database, once without and once with the pooler declared
    # when a process opens an iterator() and counts the server's cursors halfway through
    plain = _settings_process(PROBE, DATABASE_POOLER="")
    pooled = _settings_process(PROBE, DATABASE_POOLER="pgbouncer")
    # then without a pooler the iterator streams through a server-side cursor
    assert plain.stdout.split() == ["False", "None", "1"], plain.stderr
    # and behind PgBouncer it holds none on the server, and no statement is ever prepared
    assert pooled.stdout.split() == ["True", "None", "0"], pooled.stderr


def test_an_unknown_pooler_is_refused_at_start_with_the_accepted_value():
    result = _settings_process("import django; django.setup()", DATABASE_POOLER="pgpool")
    assert result.returncode != 0
    assert "DATABASE_POOLER must be pgbouncer or empty, not 'pgpool'" in result.stderr


def test_a_pooler_without_a_database_url_is_refused():
    result = _settings_process("import django; django.setup()", DATABASE_POOLER="pgbouncer", DATABASE_URL="")
    assert result.returncode != 0
    assert "DATABASE_URL must name the pooler" in result.stderr


def test_server_side_binding_cannot_be_combined_with_the_pooler():
    from django.core.exceptions import ImproperlyConfigured

    from config.settings import behind_pooler

    with pytest.raises(ImproperlyConfigured, match="server-side binding"):
        behind_pooler({"OPTIONS": {"server_side_binding": True}})
    assert behind_pooler({}) == {"DISABLE_SERVER_SIDE_CURSORS": True, "OPTIONS": {"prepare_threshold": None}}


@pytest.fixture
def pooled(postgres_only, monkeypatch):
    """This test's connection configured as behind the pooler (no server-side cursors)."""
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)


def _agent_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if 'FROM "registry_agent"' in q["sql"]]


def test_the_catalog_export_still_reads_a_chunk_at_a_time_behind_the_pooler(
    world, leadership, client_for, settings, pooled
):
    # given chunks of three rows and the eight agents of the portfolio
    settings.PORTFOLIO_EXPORT_CHUNK_SIZE = 3
    client = client_for(leadership)
    # when the catalog CSV is streamed without server-side cursors
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/portfolio/export/agents.csv")
        body = b"".join(response.streaming_content).decode("utf-8-sig")
    # then every agent is there once, in key order
    assert [r["key"] for r in csv.DictReader(io.StringIO(body))] == [f"a{i}" for i in range(1, 9)]
    # and they came three at a time (3 + 3 + 2), each chunk starting after the last key read
    chunks = [sql for sql in _agent_queries(captured) if "LIMIT 3" in sql]
    assert len(chunks) == 3
    assert '"registry_agent"."key" >' not in chunks[0]
    assert all('"registry_agent"."key" > ' in sql for sql in chunks[1:])


def test_the_inventory_and_the_findings_export_match_with_and_without_the_pooler(
    world, leadership, client_for, settings, monkeypatch, postgres_only
):
    settings.PORTFOLIO_EXPORT_CHUNK_SIZE = 2
    client = client_for(leadership)

    def exports():
        findings = b"".join(client.get("/portfolio/export/findings.csv").streaming_content)
        inventory = b"".join(client.get("/portfolio/export/agent-inventory.cdx.json").streaming_content)
        # the inventory carries a fresh serial number and timestamp each time: compare its components
        return findings, json.loads(inventory)["components"]

    streamed = exports()
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    chunked = exports()
    assert chunked == streamed
    assert chunked[0].count(b"\n") > 1  # the header and the portfolio's findings
    assert len(chunked[1]) > 8  # the agents, then their models and tools


def test_keyset_chunks_give_each_row_once_in_order_whatever_the_chunk_size(world, pooled):
    keys = [f"a{i}" for i in range(1, 9)]
    for size in (1, 3, 8, 9):
        assert list(in_chunks(Agent.objects.all(), by="key", fields=["key"], flat=True, size=size)) == keys
        assert [a.key for a in in_chunks(Agent.objects.all(), by="key", size=size)] == keys
    with pytest.raises(ValueError, match="size must be at least 1"):
        list(in_chunks(Agent.objects.all(), by="key", size=0))


def test_the_audit_walk_checks_every_entry_in_chunks_behind_the_pooler(agent, owner, pooled):
    # given a trail of several entries
    for n in range(5):
        audit.record("test.entry", actor=owner, target=agent, after={"n": n})
    total = audit.AuditEvent.objects.count()
    # when it is walked two entries at a time without server-side cursors
    report = audit.verify_chain(batch_size=2)
    # then every entry was checked and the chain holds
    assert (report.checked, report.first_broken_seq, report.ok) == (total, None, True)


# --- Through a real PgBouncer (phase 3 of scripts/test.sh) ------------------------------------------


@pytest.fixture
def through_pgbouncer(db):
    if settings.DATABASE_POOLER != "pgbouncer":
        pytest.skip("DATABASE_URL does not name a PgBouncer (phase 3 of scripts/test.sh runs this)")


def _direct(settings_dict: dict) -> psycopg.Connection:
    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
        autocommit=True,
    )


@pytest.mark.integration
def test_the_test_database_is_reached_through_pgbouncer_in_transaction_mode(through_pgbouncer):
    s = connection.settings_dict
    connection.ensure_connection()
    # given this test's own connection, as PgBouncer's admin console lists its clients
    local_port = _local_port(connection)
    with admin_console(s) as console:
        clients = console_rows(console, "SHOW CLIENTS")
        pools = {(p["database"], p["user"]): p for p in console_rows(console, "SHOW POOLS")}
    # then the pooler has this very connection as a client of the test database
    assert any(c["database"] == s["NAME"] and c["port"] == local_port for c in clients), clients
    # and pools it per transaction
    assert pools[(s["NAME"], s["USER"])]["pool_mode"] == "transaction"
    # and the server behind it is another port than the one this connection dialled
    with connection.cursor() as cursor:
        cursor.execute("SELECT inet_server_port()")
        assert cursor.fetchone()[0] != int(s["PORT"])
    # and two client sessions share one server session: the second, opened while the first is still
    # connected but idle, runs on the backend the first just released (PgBouncer reuses the most
    # recently released server connection first), which session pooling could never do
    with _direct(s) as first, _direct(s) as second:
        first_backend = first.execute("SELECT pg_backend_pid()").fetchone()[0]
        second_backend = second.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert second_backend == first_backend
        # so a session-level SET made by one client is seen by the other: why the code keeps none
        first.execute("SET search_path TO pg_catalog, public")
        assert second.execute("SHOW search_path").fetchone()[0] == "pg_catalog, public"
        first.execute("RESET search_path")


def _local_port(conn) -> int:
    import socket

    fd = conn.connection.pgconn.socket
    with socket.socket(fileno=os.dup(fd)) as sock:
        return sock.getsockname()[1]
