"""Register now, complete later: the short form and the checklist on the agent page."""

import pytest
from django.core.exceptions import ValidationError

from registry import services
from registry.models import Agent


def quick(unit, owner, **overrides) -> dict:
    data = {
        "key": "hr.onboarding-buddy",
        "name": "Onboarding buddy",
        "owner": owner.pk,
        "business_unit": unit.pk,
        "objective": "Answers new joiners' questions in their first month.",
        "pattern": "employee_enablement",
        "autonomy_level": 1,
        "data_classification": "internal",
    }
    data.update(overrides)
    return data


def test_the_short_form_registers_an_agent_with_six_answers(client_for, owner, unit):
    response = client_for(owner).post("/agents/new/quick/", quick(unit, owner))
    agent = Agent.objects.get(key="hr.onboarding-buddy")
    assert response.status_code == 302
    assert agent.owner == owner
    assert agent.objective.startswith("Answers new joiners")
    assert agent.topology == ""
    assert agent.lifecycle == "proposed"


def test_the_agent_page_checklist_shrinks_as_the_owner_completes_the_record(client_for, owner, unit):
    client_for(owner).post("/agents/new/quick/", quick(unit, owner))
    agent = Agent.objects.get(key="hr.onboarding-buddy")
    page = client_for(owner).get(f"/agents/{agent.key}/").content.decode()
    assert "Still to complete (7 of 7)" in page
    # when: the owner fills in the description and the topology
    services.update_agent(agent, actor=owner, description="A friendly guide", topology="embedded")
    page = client_for(owner).get(f"/agents/{agent.key}/").content.decode()
    assert "Still to complete (5 of 7)" in page
    assert 'data-item="topology"><span class="badge green">done' in page


def test_a_complete_record_shows_no_checklist(client_for, owner, agent):
    services.update_agent(
        agent,
        actor=owner,
        escalation_contact="HR desk",
        escalation_procedure="Hands off to the HR desk",
        allowed_actions="Answer",
        forbidden_actions="Decide leave",
        inputs="Leave policy",
        actions="None",
        business_outcome="Fewer tickets",
        metric_name="Tickets",
    )
    services.create_version(agent, actor=owner, label="1.0", model_provider="openai", model_name="gpt-5")
    assert "Still to complete" not in client_for(owner).get(f"/agents/{agent.key}/").content.decode()


def test_the_board_reviews_it_only_once_the_topology_is_stated(owner, unit):
    agent = services.create_agent(
        actor=owner,
        key="hr.onboarding-buddy",
        name="Onboarding buddy",
        business_unit=unit,
        objective="Helps",
        pattern="employee_enablement",
        autonomy_level=1,
        data_classification="internal",
    )
    with pytest.raises(ValidationError, match="topology"):
        services.transition_agent(agent, "in_review", actor=owner, reason="Ready")
    services.update_agent(agent, actor=owner, topology="service")
    assert services.transition_agent(agent, "in_review", actor=owner, reason="Ready").lifecycle == "in_review"


def test_the_full_form_still_asks_for_the_topology(client_for, owner, unit):
    data = quick(unit, owner)
    response = client_for(owner).post("/agents/new/", data)
    assert response.status_code == 200
    assert "topology" in response.context["form"].errors


def test_missing_answers_are_said_beside_their_fields(client_for, owner, unit):
    response = client_for(owner).post("/agents/new/quick/", quick(unit, owner, objective="", pattern="nope"))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"objective", "pattern"}
    assert not Agent.objects.exists()
