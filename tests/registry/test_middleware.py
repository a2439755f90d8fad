"""Request ids, and a clear 503 while the database is away that heals itself when it is back."""

import socket

import pytest
from django.db import connection

from registry.models import AuditEvent
from tests.flush_support import flushable_audit  # noqa: F401 (fixture)


def test_each_response_carries_a_request_id(client, db):
    first = client.get("/accounts/login/")["X-Request-ID"]
    second = client.get("/accounts/login/")["X-Request-ID"]
    assert len(first) == 32
    assert first != second


def test_a_sane_incoming_request_id_is_kept_and_reaches_the_audit_trail(client_for, owner, agent):
    response = client_for(owner).post(
        f"/agents/{agent.key}/transition/",
        {"to_state": "in_review", "reason": "ready"},
        HTTP_X_REQUEST_ID="lb-7f3a9c21-0001",
    )
    assert response["X-Request-ID"] == "lb-7f3a9c21-0001"
    assert AuditEvent.objects.filter(event_type="agent.transitioned").get().correlation_id == "lb-7f3a9c21-0001"


@pytest.mark.parametrize("bad", ["short", "has spaces in it", "<script>alert(1)</script>", "x" * 200])
def test_an_insane_incoming_request_id_is_replaced(client, db, bad):
    assert client.get("/accounts/login/", HTTP_X_REQUEST_ID=bad)["X-Request-ID"] != bad


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@pytest.fixture
def database_down(transactional_db):
    """Point the connection at a port nobody listens on; put it back afterwards."""
    original = dict(connection.settings_dict)

    def down():
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=_closed_port())

    def up():
        connection.close()
        connection.settings_dict.update(HOST=original["HOST"], PORT=original["PORT"])

    yield down, up
    up()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="takes a PostgreSQL server away by its port")
@pytest.mark.usefixtures("flushable_audit")
def test_pages_answer_503_while_the_database_is_down_and_recover(database_down, client, owner):
    down, up = database_down
    client.force_login(owner)
    assert client.get("/").status_code == 200
    # given the database goes away
    down()
    client.raise_request_exception = False
    # when a signed-in person opens a page (the session read itself fails)
    response = client.get("/")
    # then they are told plainly, with no trace, and asked to retry
    assert response.status_code == 503
    assert b"cannot reach its database" in response.content
    assert b"Traceback" not in response.content
    assert response["Retry-After"] == "30"
    # and the API says the same in JSON
    api = client.get("/api/v1/agents/")
    assert api.status_code == 503
    assert "cannot reach its database" in api.json()["detail"]
    # when the database is back, the very next request works without a restart
    up()
    assert client.get("/").status_code == 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="takes a PostgreSQL server away by its port")
@pytest.mark.usefixtures("flushable_audit")
def test_healthz_reports_the_database_down_with_503(database_down, client):
    down, up = database_down
    assert client.get("/healthz").json()["status"] == "ok"
    down()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False
    assert response.json()["checks"]["broker"]["ok"] is True
    up()
    assert client.get("/healthz").status_code == 200
