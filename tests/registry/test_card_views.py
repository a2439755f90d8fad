"""The agent card pages: register from a card, re-import with a diff, confirm."""

import json

from registry.models import Agent, AgentCard
from tests.registry.test_cards import as_json, card_v03, card_v1


def register_post(unit, owner, **card) -> dict:
    return {
        "key": "travel.planner",
        "owner": owner.pk,
        "business_unit": unit.pk,
        "pattern": "workplace_services",
        "autonomy_level": 2,
        "data_classification": "internal",
        **card,
    }


def test_an_owner_registers_an_agent_by_pasting_its_card(client_for, owner, unit):
    response = client_for(owner).post(
        "/agents/new/from-card/", register_post(unit, owner, card_json=json.dumps(as_json(card_v1())))
    )
    agent = Agent.objects.get(key="travel.planner")
    assert response.status_code == 302
    page = client_for(owner).get(f"/agents/{agent.key}/").content.decode()
    assert "Book a trip" in page
    assert "https://agents.example.com/travel/a2a" in page
    assert "Unverified" in page


def test_a_card_file_is_read_too(client_for, owner, unit):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("agent-card.json", json.dumps(card_v03()).encode(), "application/json")
    response = client_for(owner).post("/agents/new/from-card/", register_post(unit, owner, card_file=upload))
    assert response.status_code == 302
    assert Agent.objects.get(key="travel.planner").card.spec_version == "0.3"


def test_a_url_off_the_allow_list_is_refused_beside_the_url_field(client_for, owner, unit, settings):
    settings.AGENT_CARD_ALLOWED_HOSTS = ["agents.example.com"]
    response = client_for(owner).post(
        "/agents/new/from-card/", register_post(unit, owner, card_url="https://evil.example.net/agent-card.json")
    )
    assert response.status_code == 200
    assert "not on the administrators' list" in response.context["form"].errors["card_url"][0]
    assert not Agent.objects.exists()


def test_a_broken_card_and_a_missing_source_are_form_errors_not_500s(client_for, owner, unit):
    broken = client_for(owner).post("/agents/new/from-card/", register_post(unit, owner, card_json="{not json"))
    none = client_for(owner).post("/agents/new/from-card/", register_post(unit, owner))
    assert broken.status_code == 200
    assert "not valid JSON" in broken.content.decode()
    assert none.status_code == 200
    assert "one way" in none.content.decode()


def test_re_import_shows_the_diff_and_the_owner_confirms_it(client_for, owner, delegate, unit, agent):
    card = card_v1(name=agent.name)
    # when: the delegate reads a card for the existing agent
    response = client_for(delegate).post(f"/agents/{agent.key}/card/", {"card_json": json.dumps(as_json(card))})
    assert response.status_code == 302, response.context["form"].errors
    page = client_for(delegate).get(f"/agents/{agent.key}/card/").content.decode()
    # then: the page lists the changes and the agent is unchanged; the delegate cannot confirm
    assert "added: book-trip, check-policy" in page
    assert "The owner confirms the changes." in page
    agent.refresh_from_db()
    assert agent.capabilities == []
    # when: the owner confirms
    client_for(owner).post(f"/agents/{agent.key}/card/", {"confirm": "1"})
    agent.refresh_from_db()
    assert [c["id"] for c in agent.capabilities] == ["book-trip", "check-policy"]
    assert AgentCard.objects.get(agent=agent).pending_card is None


def test_the_api_registers_from_a_card_and_re_imports_with_owner_confirmation(api_for, owner, delegate, unit):
    client = api_for(owner)
    created = client.post(
        "/api/v1/agents/from-card/",
        {
            "card": as_json(card_v1()),
            "key": "travel.planner",
            "business_unit": unit.slug,
            "pattern": "workplace_services",
            "autonomy_level": 2,
            "data_classification": "internal",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    from registry import services

    services.grant_delegate(Agent.objects.get(key="travel.planner"), delegate, actor=owner)
    newer = as_json(card_v1(description="Plans and books business trips."))
    proposed = api_for(delegate).post("/api/v1/agents/travel.planner/card/", {"card": newer}, format="json")
    assert proposed.status_code == 200
    assert proposed.json()["changes"]["description"]["new"] == "Plans and books business trips."
    assert api_for(delegate).post("/api/v1/agents/travel.planner/confirm-card/").status_code == 403
    confirmed = api_for(owner).post("/api/v1/agents/travel.planner/confirm-card/")
    assert confirmed.status_code == 200
    assert confirmed.json()["description"] == "Plans and books business trips."


def test_the_api_refuses_a_card_url_off_the_allow_list_on_the_url_field(api_for, owner, agent, settings):
    settings.AGENT_CARD_ALLOWED_HOSTS = []
    response = api_for(owner).post(
        f"/api/v1/agents/{agent.key}/card/", {"url": "https://agents.example.com/card.json"}, format="json"
    )
    assert response.status_code == 400
    assert "not on the administrators' list" in response.json()["url"][0]
