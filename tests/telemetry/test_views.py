"""Telemetry pages: sources for administrators, and the triage of unknown agents."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from telemetry.identity import identify
from telemetry.ingest import Event, store_events
from telemetry.models import ExternalIdentity, IdentityAlias, TelemetrySource


@pytest.fixture
def shadow(source):
    store_events(
        source.pk,
        [
            Event(
                identity=identify("9b2e61c4-58a2-4f59-8d1b-7a6c0e3f2d11", "Expense checker", "finance-api"),
                environment="production",
                kind="invocation",
                occurred_at=timezone.now(),
            )
        ],
    )
    return "Expense checker@finance-api"


def test_an_administrator_registers_a_source_and_sees_the_token_once(client_for, admin):
    response = client_for(admin).post("/telemetry/sources/", {"name": "Collector", "kind": "collector", "active": "on"})
    assert response.status_code == 200
    assert b"ing_" in response.content
    source = TelemetrySource.objects.get(name="Collector")
    page = client_for(admin).get(f"/telemetry/sources/{source.pk}/")
    assert b"ing_" in page.content  # the prefix only
    assert source.tokens.get().prefix.encode() in page.content


def test_people_without_the_role_cannot_see_sources(client_for, owner, source):
    assert client_for(owner).get("/telemetry/sources/").status_code == 403
    assert client_for(owner).get(f"/telemetry/sources/{source.pk}/").status_code == 404


def test_the_board_triages_unknown_agents(client_for, board, shadow, owner):
    # when
    listing = client_for(board).get("/telemetry/unknown-agents/")
    detail = client_for(board).get("/telemetry/unknown-agents/identity/", {"identity": shadow})
    # then
    assert shadow.encode() in listing.content
    assert detail.status_code == 200
    register = [line for line in detail.content.decode().split('"') if line.startswith("/agents/new/?")][0]
    prefill = parse_qs(urlparse(register.replace("&amp;", "&")).query)
    assert prefill["key"] == ["expense-checker"]
    assert prefill["name"] == ["Expense checker"]
    assert client_for(owner).get("/telemetry/unknown-agents/").status_code == 403


def test_the_board_links_an_identity_to_an_agent(client_for, board, shadow, agent):
    response = client_for(board).post("/telemetry/unknown-agents/link/", {"identity": shadow, "agent": agent.key})
    assert response.status_code == 302
    assert IdentityAlias.objects.get(identity=shadow).agent == agent


def test_the_board_marks_an_identity_external(client_for, board, shadow):
    expiry = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    client_for(board).post(
        "/telemetry/unknown-agents/external/", {"identity": shadow, "reason": "Vendor tool", "expires_at": expiry}
    )
    assert ExternalIdentity.objects.get(identity=shadow).reason == "Vendor tool"
    listing = client_for(board).get("/telemetry/unknown-agents/")
    assert shadow.encode() not in listing.content


def test_the_agent_page_shows_its_telemetry(client_for, owner, agent, source):
    store_events(
        source.pk,
        [
            Event(
                identity=identify(agent.key, None, None),
                environment="staging",
                kind="invocation",
                occurred_at=timezone.now(),
            )
        ],
    )
    response = client_for(owner).get(f"/agents/{agent.key}/")
    assert b"Runtime telemetry" in response.content
    assert b"1 invocations" in response.content


def test_the_nav_item_is_named_for_the_page_it_opens(client_for, board):
    # given
    html = client_for(board).get("/").content.decode()
    nav = html.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    # when: the entry pointing at the unknown agents list
    entry = re.search(r'<a href="/telemetry/unknown-agents/"[^>]*>([^<]+)</a>', nav)
    # then
    assert entry is not None
    assert entry.group(1) == "Unknown agents"
    page = client_for(board).get("/telemetry/unknown-agents/").content.decode()
    assert "<h1>Unknown agents</h1>" in page
