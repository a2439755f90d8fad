"""Issue 15's journey in a real browser: the board claims a shadow agent from the triage in one short form."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from registry.models import Agent
from telemetry import services as telemetry_services
from telemetry.identity import identify
from telemetry.ingest import Event, store_events
from telemetry.models import IdentityAlias
from tests.browser.helpers import assert_accessible, field, login

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


def test_the_board_claims_a_shadow_agent_from_the_triage_in_one_short_form(page, board, admin, owner, unit, screenshot):
    # given: telemetry reports an agent nobody registered, by name and service only
    source, _token = telemetry_services.create_source(actor=admin, name="Finance gateway", kind="gateway")
    who = identify(None, "Expense checker", "finance-api")
    now = timezone.now()
    store_events(
        source.pk,
        [
            Event(identity=who, environment="staging", kind="invocation", occurred_at=now - timedelta(days=3)),
            Event(identity=who, environment="production", kind="invocation", occurred_at=now - timedelta(hours=1)),
        ],
    )

    # when: a board member opens the unknown agents and registers this one
    login(page, board.username, PASSWORD)
    page.goto("/agents/new/quick/")
    expect(page.get_by_role("heading", name="Register an agent")).to_be_visible()
    assert_accessible(page, "short form for a fresh registration")
    page.get_by_role("link", name="Unknown agents").click()
    expect(page.get_by_role("heading", name="Unknown agents")).to_be_visible()
    assert_accessible(page, "triage")
    page.get_by_role("link", name="Register Expense checker@finance-api").click()

    # then: the short form shows what telemetry saw and asks only what it cannot know
    expect(page.get_by_role("heading", name="Register this agent")).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Expense checker@finance-api")
    expect(facts).to_contain_text("finance-api")
    expect(facts).to_contain_text("production, staging")
    expect(field(page, "Key")).to_have_value("expense-checker")
    expect(field(page, "Name")).to_have_value("Expense checker")
    assert page.locator("form select, form input:not([type=hidden]), form textarea").count() == 8
    assert_accessible(page, "short form")

    # when: they name the owner, unit, purpose and classification, and register
    field(page, "Key").fill("finance.expense-checker")
    field(page, "Owner").select_option(label=str(owner))
    field(page, "Business unit").select_option(label="Human Resources")
    field(page, "Purpose").fill("Flags expense claims that break the travel policy.")
    field(page, "Pattern").select_option(label="Workplace and IT services")
    field(page, "Autonomy level").select_option(label="2 · Prepare and propose")
    field(page, "Data classification").select_option(label="Confidential")
    screenshot(page, "short-form")
    page.get_by_role("button", name="Register").click()

    # then: the new agent's page greets it, lists what is still missing, and it owns the identity
    expect(page.get_by_role("heading", name="Expense checker", level=1)).to_be_visible()
    expect(page.get_by_text("owns Expense checker@finance-api")).to_be_visible()
    expect(page.get_by_role("heading", name="Still to complete (6 of 7)")).to_be_visible()
    assert_accessible(page, "agent page with checklist")
    agent = Agent.objects.get(key="finance.expense-checker")
    assert agent.owner == owner
    assert (agent.runs_in_staging, agent.runs_in_production) == (True, True)
    assert IdentityAlias.objects.get(identity="Expense checker@finance-api").agent == agent

    # and: the triage no longer lists it
    page.get_by_role("link", name="Unknown agents").click()
    expect(page.get_by_text("No unknown agents.")).to_be_visible()


def test_an_owner_registers_from_a_card_re_imports_it_and_checks_a_bulk_file(page, owner, unit, tmp_path, screenshot):
    import json

    card = {
        "name": "Travel planner",
        "description": "Plans business trips within the travel policy.",
        "supportedInterfaces": [{"url": "https://agents.example.com/travel/a2a", "protocolBinding": "JSONRPC"}],
        "skills": [{"id": "book-trip", "name": "Book a trip", "description": "Books flights", "tags": ["travel"]}],
    }
    # when: the owner pastes an agent card and adds what the card cannot say
    login(page, owner.username, PASSWORD)
    page.get_by_role("link", name="Catalog").click()
    page.get_by_role("link", name="Register from an agent card").click()
    assert_accessible(page, "register from a card")
    field(page, "Card JSON").fill(json.dumps(card))
    field(page, "Key").fill("travel.planner")
    field(page, "Business unit").select_option(label="Human Resources")
    field(page, "Pattern").select_option(label="Workplace and IT services")
    field(page, "Autonomy level").select_option(label="2 · Prepare and propose")
    field(page, "Data classification").select_option(label="Internal")
    page.get_by_role("button", name="Register").click()

    # then: the agent page shows the card's skill, endpoint and signature status
    expect(page.get_by_role("heading", name="Travel planner", level=1)).to_be_visible()
    expect(page.get_by_text("Book a trip")).to_be_visible()
    expect(
        page.get_by_role("region", name="Capabilities").get_by_text("https://agents.example.com/travel/a2a")
    ).to_be_visible()
    assert_accessible(page, "agent page with capabilities")

    # when: a newer card with another skill is read
    card["skills"].append({"id": "file-expenses", "name": "File expenses", "description": "Files", "tags": []})
    page.get_by_role("link", name="Agent card").click()
    field(page, "Card JSON").fill(json.dumps(card))
    page.get_by_role("button", name="Read the card").click()

    # then: the diff waits for the owner, who confirms it
    expect(page.get_by_text("added: file-expenses")).to_be_visible()
    assert_accessible(page, "card diff")
    screenshot(page, "card-diff")
    page.get_by_role("button", name="Confirm the changes").click()
    expect(page.get_by_text("The agent now follows its new card.")).to_be_visible()
    assert [c["id"] for c in Agent.objects.get(key="travel.planner").capabilities] == ["book-trip", "file-expenses"]

    # when: the owner checks a bulk file with a mistake in it
    bad = tmp_path / "agents.csv"
    bad.write_text(
        "key,name,owner,business_unit,objective,pattern,autonomy_level,data_classification\n"
        f"hr.bulk-one,Bulk one,{owner.username},{unit.slug},Helps,employee_enablement,1,internal\n"
        f"hr.bulk-two,Bulk two,{owner.username},{unit.slug},Helps,astrology,1,internal\n"
    )
    page.goto("/agents/import/")
    assert_accessible(page, "import page")
    field(page, "CSV or Excel file").set_input_files(str(bad))
    page.get_by_role("button", name="Check the file").click()

    # then: the problem is named by row and column, and nothing is registered
    expect(page.get_by_role("heading", name="1 problem to fix; nothing was registered")).to_be_visible()
    expect(page.get_by_role("cell", name="pattern")).to_be_visible()
    assert_accessible(page, "import problems")
    assert not Agent.objects.filter(key__startswith="hr.bulk-").exists()
