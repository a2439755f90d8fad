"""Claiming a shadow agent: the short form the triage opens, filled in from telemetry."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from governance.checks import run_check
from governance.choices import FindingKind
from governance.models import Finding
from registry.models import Agent, AuditEvent
from telemetry import services
from telemetry.identity import identify
from telemetry.ingest import Event, store_events
from telemetry.models import IdentityAlias, Sighting

FIRST = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
LAST = datetime(2026, 11, 20, 17, 5, tzinfo=UTC)


@pytest.fixture
def shadow(source):
    """An agent known only by name and service, seen in staging and then production."""
    who = identify("9b2e61c4-58a2-4f59-8d1b-7a6c0e3f2d11", "Expense checker", "finance-api")
    store_events(source.pk, [Event(identity=who, environment="staging", kind="invocation", occurred_at=FIRST)])
    store_events(source.pk, [Event(identity=who, environment="production", kind="invocation", occurred_at=LAST)])
    return "Expense checker@finance-api"


def short_form(unit, person, **overrides) -> dict:
    data = {
        "key": "finance.expense-checker",
        "name": "Expense checker",
        "owner": person.pk,
        "business_unit": unit.pk,
        "objective": "Flags expense claims that break the travel policy.",
        "pattern": "workplace_services",
        "autonomy_level": 2,
        "data_classification": "confidential",
    }
    data.update(overrides)
    return data


def test_the_short_form_shows_what_telemetry_saw_and_asks_only_the_rest(client_for, board, shadow):
    # when
    response = client_for(board).get("/telemetry/unknown-agents/register/", {"identity": shadow})
    # then: identity, name, service, environments, first and last seen are shown
    page = response.content.decode()
    assert response.status_code == 200
    for seen in (shadow, "finance-api", "production, staging", "2 Nov 2026 09:30", "20 Nov 2026 17:05"):
        assert seen in page
    # and the form asks only what telemetry cannot know (plus the prefilled identity)
    form = response.context["form"]
    assert list(form.fields) == [
        "key",
        "name",
        "owner",
        "business_unit",
        "objective",
        "pattern",
        "autonomy_level",
        "data_classification",
    ]
    assert form["key"].value() == "expense-checker"
    assert form["name"].value() == "Expense checker"


@time_machine.travel(LAST + timedelta(hours=1), tick=False)
def test_claiming_registers_the_agent_and_resolves_the_shadow_finding_at_once(client_for, board, owner, unit, shadow):
    # given: the shadow-agent check has raised a finding on the identity
    run_check(FindingKind.SHADOW_AGENT)
    finding = Finding.objects.get(kind=FindingKind.SHADOW_AGENT, identity=shadow)
    assert finding.resolved_at is None
    # when
    response = client_for(board).post(
        "/telemetry/unknown-agents/register/", {"identity": shadow, **short_form(unit, owner)}
    )
    # then: the agent exists with the environments telemetry saw and the facts the form gave
    agent = Agent.objects.get(key="finance.expense-checker")
    assert response.status_code == 302
    assert response["Location"] == f"/agents/{agent.key}/"
    assert agent.owner == owner
    assert (agent.runs_in_development, agent.runs_in_staging, agent.runs_in_production) == (True, True, True)
    assert agent.topology == ""
    assert "finance-api" in agent.description
    # and the identity is its alias, its sightings are its own, and the finding resolved without a check run
    assert IdentityAlias.objects.get(identity=shadow).agent == agent
    assert set(Sighting.objects.filter(identity=shadow).values_list("agent", flat=True)) == {agent.pk}
    finding.refresh_from_db()
    assert finding.resolved_at is not None
    # and both writes are audited as the board member who claimed it
    events = AuditEvent.objects.filter(agent=agent).values_list("event_type", "actor")
    assert set(events) >= {("agent.created", board.pk), ("identity_alias.created", board.pk)}


def test_the_claimed_agent_page_lists_what_is_still_missing(client_for, board, owner, unit, shadow):
    agent = services.claim_shadow_agent(
        shadow,
        actor=board,
        owner=owner,
        **{k: v for k, v in short_form(unit, owner).items() if k != "owner"} | {"business_unit": unit},
    )
    page = client_for(owner).get(f"/agents/{agent.key}/").content.decode()
    assert "Still to complete (6 of 7)" in page
    assert 'data-item="topology"><span class="badge orange">missing' in page
    assert 'data-item="description"><span class="badge green">done' in page


def test_a_missing_field_is_said_beside_it_and_nothing_is_written(client_for, board, owner, unit, shadow):
    response = client_for(board).post(
        "/telemetry/unknown-agents/register/", {"identity": shadow, **short_form(unit, owner, objective="", owner="")}
    )
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"objective", "owner"}
    assert not Agent.objects.filter(key="finance.expense-checker").exists()
    assert not IdentityAlias.objects.filter(identity=shadow).exists()


def test_a_taken_key_is_refused_on_the_field_and_the_identity_stays_unclaimed(
    client_for, board, owner, unit, shadow, make_agent
):
    make_agent("finance.expense-checker")
    response = client_for(board).post(
        "/telemetry/unknown-agents/register/", {"identity": shadow, **short_form(unit, owner)}
    )
    assert response.status_code == 200
    assert "already exists" in str(response.context["form"].errors["key"])
    assert not IdentityAlias.objects.filter(identity=shadow).exists()
    assert not Sighting.objects.filter(identity=shadow, agent__isnull=False).exists()


def test_only_the_board_and_administrators_claim_and_a_claimed_identity_cannot_be_claimed_twice(
    board, owner, unit, shadow
):
    fields = {k: v for k, v in short_form(unit, owner).items() if k != "owner"} | {"business_unit": unit}
    with pytest.raises(PermissionDenied):
        services.claim_shadow_agent(shadow, actor=owner, owner=owner, **fields)
    services.claim_shadow_agent(shadow, actor=board, owner=owner, **fields)
    with pytest.raises(ValidationError, match="already belongs"):
        services.claim_shadow_agent(shadow, actor=board, owner=owner, **fields | {"key": "finance.other"})


def test_an_identity_equal_to_the_key_needs_no_alias(board, owner, unit, source):
    store_events(
        source.pk,
        [
            Event(
                identity=identify("hr.payroll-bot", None, None),
                environment="development",
                kind="heartbeat",
                occurred_at=FIRST,
            )
        ],
    )
    fields = {k: v for k, v in short_form(unit, owner, key="hr.payroll-bot").items() if k != "owner"}
    agent = services.claim_shadow_agent("hr.payroll-bot", actor=board, owner=owner, **fields | {"business_unit": unit})
    assert not IdentityAlias.objects.exists()
    assert Sighting.objects.get(identity="hr.payroll-bot").agent == agent
    assert (agent.runs_in_development, agent.runs_in_production) == (True, False)


def test_an_unknown_identity_is_404(client_for, board):
    assert client_for(board).get("/telemetry/unknown-agents/register/", {"identity": "nobody"}).status_code == 404


def test_a_claimed_agent_s_gaps_show_up_as_findings_once_it_runs(board, owner, unit, shadow):
    """Register now, complete later: what the short form left out is asked for by the checklist, and
    once the agent runs in pilot the checks raise it as findings (controls without evidence)."""
    from registry import services as registry_services

    # given: a shadow agent claimed with the short form, then moved to pilot
    fields = {k: v for k, v in short_form(unit, owner).items() if k != "owner"} | {"business_unit": unit}
    agent = services.claim_shadow_agent(shadow, actor=board, owner=owner, **fields)
    registry_services.update_agent(agent, actor=owner, topology="service")
    registry_services.transition_agent(agent, "in_review", actor=owner, reason="Ready")
    registry_services.transition_agent(agent, "approved", actor=board, reason="Fine for a pilot")
    registry_services.transition_agent(agent, "pilot", actor=owner, reason="Pilot")
    # when
    run_check(FindingKind.CONTROL_GAP)
    # then: the missing scope and escalation path are findings on the agent
    gap = Finding.objects.get(kind=FindingKind.CONTROL_GAP, agent=agent, resolved_at__isnull=True)
    assert {"scope", "escalation"} <= set(gap.details["controls"])
