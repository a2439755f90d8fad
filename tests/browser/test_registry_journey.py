"""Issue 2's journey in a real browser: an owner registers, finds and edits an agent; a leader may only look."""

import re

import pytest
from playwright.sync_api import expect

from registry.models import Agent
from tests.browser.helpers import assert_no_axe_violations, field, login, logout

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


def test_an_owner_registers_finds_and_edits_an_agent_and_a_leader_can_only_read_it(
    page, owner, leadership, make_agent, other_unit, screenshot
):
    # given: another agent in the catalog that the search must leave out
    make_agent("fin.invoice-helper", name="Invoice helper", business_unit=other_unit)

    # when: the owner signs in and registers an agent through the form
    login(page, owner.username, PASSWORD)
    page.get_by_role("link", name="Catalog").click()
    page.get_by_role("link", name="Register an agent").click()
    expect(page.get_by_role("heading", name="Register an agent")).to_be_visible()
    field(page, "Key").fill("hr.onboarding-guide")
    field(page, "Name").fill("Onboarding guide")
    field(page, "Description").fill("Walks new joiners through their first weeks.")
    field(page, "Business unit").select_option(label="Human Resources")
    field(page, "Pattern").select_option(label="Employee AI enablement")
    field(page, "Autonomy level").select_option(label="2 · Prepare and propose")
    field(page, "Topology").select_option(label="Embedded in an application")
    field(page, "Data classification").select_option(label="Internal")
    page.get_by_role("button", name="Register").click()

    # then: the agent page greets the new agent, and it is stored with its owner
    expect(page.get_by_role("heading", name="Onboarding guide", level=1)).to_be_visible()
    expect(page.get_by_text("Onboarding guide is registered as hr.onboarding-guide.")).to_be_visible()
    assert Agent.objects.get(key="hr.onboarding-guide").owner == owner

    # when: the owner searches the catalog for it
    page.get_by_role("link", name="Catalog").click()
    page.get_by_role("searchbox", name="Search").fill("onboarding")
    page.get_by_role("button", name="Apply").click()

    # then: the search finds it and leaves the unrelated agent out
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Onboarding guide")).to_be_visible()
    expect(results.get_by_role("link", name="Invoice helper")).to_have_count(0)
    assert_no_axe_violations(page, context="catalog searched through htmx")

    # when: the owner opens it and edits its objective
    results.get_by_role("link", name="Onboarding guide").click()
    page.get_by_role("link", name="Edit", exact=True).click()
    field(page, "Objective").fill("Every new joiner knows where to find help on day one.")
    page.get_by_role("button", name="Save changes").click()

    # then: the agent page shows the change, and its history records it
    expect(page.get_by_text("Changes saved.")).to_be_visible()
    expect(page.get_by_text("Every new joiner knows where to find help on day one.").first).to_be_visible()
    expect(page.locator(".timeline").get_by_text("agent.changed")).to_be_visible()
    assert_no_axe_violations(page, context="agent page after an edit")
    screenshot(page, "owner-edited")
    logout(page)

    # when: a leadership viewer opens the same agent
    login(page, leadership.username, PASSWORD)
    page.goto("/agents/hr.onboarding-guide/")

    # then: they read it but see no edit control, and the edit page refuses them
    expect(page.get_by_role("heading", name="Onboarding guide", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Transfer ownership|Delegates|Add version"))).to_have_count(0)
    response = page.goto("/agents/hr.onboarding-guide/edit/")
    assert response is not None
    assert response.status == 403
