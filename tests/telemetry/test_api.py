"""Telemetry API: sources for administrators, sightings and usage with the catalog, aliases."""

from datetime import timedelta

import pytest
from django.utils import timezone

from registry.models import AuditEvent
from telemetry.identity import identify
from telemetry.ingest import Event, store_events
from telemetry.models import IngestToken, TelemetrySource


@pytest.fixture
def reported(source, agent):
    now = timezone.now()
    store_events(
        source.pk,
        [
            Event(
                identity=identify(agent.key, None, None), environment="production", kind="invocation", occurred_at=now
            ),
            Event(
                identity=identify("shadow.bot", None, None), environment="production", kind="heartbeat", occurred_at=now
            ),
        ],
    )


def test_an_administrator_creates_a_source_and_gets_its_token_once(api_for, admin):
    # when
    response = api_for(admin).post("/api/v1/telemetry/sources/", {"name": "Gateway", "kind": "gateway"}, format="json")
    # then
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("ing_")
    assert body["display"] == "Gateway"
    listing = api_for(admin).get(f"/api/v1/telemetry/sources/{body['id']}/").json()
    assert "token" not in listing
    assert listing["tokens"][0]["prefix"] == body["token"][:12]


def test_an_administrator_rotates_and_revokes_tokens(api_for, admin, source):
    client = api_for(admin)
    minted = client.post(f"/api/v1/telemetry/sources/{source.pk}/tokens/", {"name": "rotation"}, format="json")
    assert minted.status_code == 201
    token_id = minted.json()["detail"]["id"]
    revoked = client.post(f"/api/v1/telemetry/sources/{source.pk}/revoke-token/", {"token_id": token_id}, format="json")
    assert revoked.status_code == 200
    assert IngestToken.objects.get(pk=token_id).revoked_at is not None
    assert AuditEvent.objects.filter(event_type="ingest_token.revoked", actor=admin).exists()


@pytest.mark.parametrize(("persona_name", "status"), [("owner", 403), ("board", 403), ("anonymous", 401)])
def test_others_may_not_create_sources(db, api_for, persona, persona_name, status):
    response = api_for(persona(persona_name)).post(
        "/api/v1/telemetry/sources/", {"name": "Mine", "kind": "gateway"}, format="json"
    )
    assert response.status_code == status
    assert not TelemetrySource.objects.filter(name="Mine").exists()


def test_sources_are_hidden_from_people_without_the_role(api_for, owner, source):
    assert api_for(owner).get("/api/v1/telemetry/sources/").json()["count"] == 0
    assert api_for(owner).get(f"/api/v1/telemetry/sources/{source.pk}/").status_code == 404


def test_people_see_sightings_of_registered_agents_and_the_board_sees_unknown_ones(api_for, employee, board, reported):
    mine = api_for(employee).get("/api/v1/telemetry/sightings/").json()
    assert [r["identity"] for r in mine["results"]] == ["hr.leave-assistant"]
    everything = api_for(board).get("/api/v1/telemetry/sightings/?unclaimed=true").json()
    assert [r["identity"] for r in everything["results"]] == ["shadow.bot"]


def test_usage_reads_per_agent(api_for, leadership, reported, agent, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):
        body = api_for(leadership).get(f"/api/v1/telemetry/usage/?agent={agent.key}").json()
    assert body["results"][0]["invocations"] == 1
    assert body["results"][0]["agent"] == agent.key


def test_an_owner_adds_and_removes_an_alias(api_for, owner, employee, agent):
    response = api_for(owner).post(
        "/api/v1/telemetry/aliases/", {"agent": agent.key, "identity": "Leave bot@hr-portal"}, format="json"
    )
    assert response.status_code == 201
    alias_id = response.json()["id"]
    assert api_for(employee).delete(f"/api/v1/telemetry/aliases/{alias_id}/").status_code == 403
    assert api_for(owner).delete(f"/api/v1/telemetry/aliases/{alias_id}/").status_code == 204
    assert AuditEvent.objects.filter(event_type="identity_alias.removed").exists()


def test_an_alias_cannot_be_claimed_twice(api_for, owner, agent, make_agent):
    other = make_agent("hr.other-bot")
    api_for(owner).post("/api/v1/telemetry/aliases/", {"agent": agent.key, "identity": "x@y"}, format="json")
    response = api_for(owner).post("/api/v1/telemetry/aliases/", {"agent": other.key, "identity": "x@y"}, format="json")
    assert response.status_code == 400
    assert "identity" in response.json()


def test_old_sightings_filter(api_for, board, reported):
    since = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api_for(board).get("/api/v1/telemetry/sightings/", {"seen_after": since}).json()["count"] == 0
