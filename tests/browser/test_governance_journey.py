"""Issue 3's journey in a real browser: an owner assesses risk and submits evidence; a board member
confirms, accepts and approves the release; the owner promotes the agent and sees it compliant."""

import pytest
from playwright.sync_api import expect

from registry import services as registry_services
from registry.models import Agent
from tests.browser.helpers import assert_no_axe_violations, field, login, logout

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password
EVIDENCE_CONTROLS = ("scope", "audit-trail", "release-gate", "escalation")


def test_an_agent_reaches_production_through_assessment_evidence_and_board_approval(
    page, make_agent, owner, board, screenshot
):
    # given: an approved, low-risk agent with one recorded version
    agent = make_agent(
        "hr.policy-faq", name="Policy FAQ", autonomy_level=1, data_classification="public", objective="Answers FAQs"
    )
    registry_services.transition_agent(agent, "in_review", actor=owner, reason="Ready for the board")
    registry_services.transition_agent(agent, "approved", actor=board, reason="Scope agreed")
    registry_services.create_version(agent, actor=owner, label="1.0.0", model_provider="acme", model_name="m1")

    # when: the owner answers the risk questionnaire
    login(page, owner.username, PASSWORD)
    page.goto(f"/governance/agents/{agent.key}/")
    expect(page.locator("#compliance-state")).to_contain_text("gap")
    page.get_by_role("link", name="Assess risk").click()
    field(page, "What is the worst impact of the agent's actions?").select_option(label="Read-only")
    field(page, "How many people can it affect?").select_option(label="Fewer than 100 people")
    field(page, "EU AI Act category").select_option(label="Minimal risk")
    field(page, "Why this category applies").fill("Answers policy questions; no Annex III use.")
    page.get_by_role("button", name="Submit assessment").click()

    # then: the tier is computed and waits for the board
    expect(page.get_by_text("Assessment submitted: computed tier low (score 0).")).to_be_visible()
    assert_no_axe_violations(page, context="governance page after the assessment")

    # when: the owner submits a written statement for each control the checklist asks for
    for code in EVIDENCE_CONTROLS:
        page.locator(f'tr[data-control="{code}"]').get_by_role("link", name="Submit evidence").click()
        page.get_by_label("Written statement").check()
        field(page, "Statement").fill(f"How {code} is handled for the policy FAQ.")
        page.get_by_role("button", name="Submit for review").click()
        expect(page.locator(f'tr[data-control="{code}"]')).to_contain_text("Submitted, awaiting review")

    # and asks the board to approve version 1.0.0 for production
    field(page, "Version").select_option(label="1.0.0")
    field(page, "Environment").select_option(label="Production")
    page.get_by_role("button", name="Ask the board for a release review").click()
    expect(page.get_by_text("Release review requested from the governance board.")).to_be_visible()
    logout(page)

    # when: a board member works through the review queue
    login(page, board.username, PASSWORD)
    page.get_by_role("link", name="Review queue").click()
    queue = page.locator("table.queue")
    assert_no_axe_violations(page, context="the board's review queue")
    queue.locator('tr[data-kind="assessment"]').get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Assessment confirmed.")).to_be_visible()
    for _ in EVIDENCE_CONTROLS:
        queue.locator('tr[data-kind="evidence"]').first.get_by_role("button", name="Accept").click()
        expect(page.get_by_text("accepted.")).to_be_visible()
    release_row = queue.locator('tr[data-kind="release"]')
    release_row.get_by_label("Reasons").fill("Evidence in order.")
    release_row.get_by_role("button", name="Decide").click()

    # then: the queue is empty
    expect(page.get_by_text("Nothing waits for the board.")).to_be_visible()
    screenshot(page, "queue-done")
    logout(page)

    # when: the owner promotes the agent to production
    login(page, owner.username, PASSWORD)
    page.goto(f"/agents/{agent.key}/")
    page.get_by_label("Move to").select_option(label="Production")
    page.get_by_label("Reason").fill("Approved by the board")
    page.get_by_role("button", name="Change state").click()

    # then: it is in production and its governance page says compliant
    expect(page.get_by_text("moved to production")).to_be_visible()
    assert Agent.objects.get(key=agent.key).lifecycle == "production"
    page.goto(f"/governance/agents/{agent.key}/")
    expect(page.locator("#compliance-state")).to_have_text("Compliant")
    expect(page.get_by_text("Version 1.0.0 may go to production.")).to_be_visible()
    screenshot(page, "compliant")


def test_owner_and_delegate_find_what_they_owe_from_the_menu(page, agent, make_agent, owner, delegate, employee):
    # given: one agent the owner keeps with a delegate, and one the delegate has nothing to do with
    make_agent("hr.other-assistant", name="Other assistant", agent_owner=employee, actor=employee)

    for person in (owner, delegate):
        # when: each opens "What I owe" from the menu
        login(page, person.username, PASSWORD)
        page.get_by_role("link", name="What I owe").click()
        # then: the shared agent is listed with its gaps and the next step, and nobody else's agent is
        expect(page.get_by_role("heading", name="What I owe")).to_be_visible()
        expect(page.get_by_role("link", name="Leave assistant")).to_be_visible()
        expect(page.get_by_text("No risk assessment yet.")).to_be_visible()
        expect(page.get_by_role("link", name="Assess risk")).to_be_visible()
        expect(page.get_by_role("link", name="Other assistant")).to_have_count(0)
        logout(page)
