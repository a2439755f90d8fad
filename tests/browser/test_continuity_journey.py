"""Issue 16's journey in a real browser: an owner answers an attestation campaign for six agents in
under ten clicks; the board reads the progress; the pages have no WCAG 2.1 AA violation (axe-core)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from governance.models import Attestation
from governance.services import continuity
from tests.browser.helpers import assert_no_axe_violations, login, logout

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


class Clicks:
    """Counts the clicks a person makes."""

    def __init__(self):
        self.count = 0

    def click(self, locator):
        self.count += 1
        locator.click()


def test_an_owner_answers_a_campaign_for_six_agents_in_under_ten_clicks(page, make_agent, owner, board, screenshot):
    # given: six agents of the owner in an open campaign
    agents = [make_agent(f"hr.assistant-{i}", name=f"Assistant {i}", objective="Answers questions") for i in range(6)]
    campaign = continuity.open_campaign(
        actor=board, name="Spring attestation", deadline=timezone.now() + timedelta(days=14)
    )
    login(page, owner.username, PASSWORD)
    clicks = Clicks()

    # when: the owner opens the page from the menu, confirms one agent, then all the others at once
    clicks.click(page.get_by_role("link", name="Confirm agents"))
    expect(page.get_by_role("heading", name="Spring attestation")).to_be_visible()
    assert_no_axe_violations(page)
    clicks.click(page.get_by_role("button", name=f"Confirm {agents[0].name} unchanged"))
    expect(page.get_by_text("1 agent: confirmed unchanged.")).to_be_visible()
    clicks.click(page.get_by_role("button", name="Confirm all 5 unchanged"))
    expect(page.get_by_text("5 agents: confirmed unchanged.")).to_be_visible()
    expect(page.get_by_text("Nothing to confirm right now.")).to_be_visible()
    screenshot(page, "answered")

    # then: six answers with snapshots, in under ten clicks
    assert clicks.count < 10
    rows = Attestation.objects.filter(campaign=campaign)
    assert rows.filter(answer="unchanged").count() == 6
    assert all(row.snapshot["owner_id"] == owner.pk for row in rows)
    logout(page)

    # and the board sees the campaign complete, on an accessible page
    login(page, board.username, PASSWORD)
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Spring attestation").click()
    expect(page.get_by_role("heading", name="Not answered (0)")).to_be_visible()
    assert_no_axe_violations(page)
    page.goto("/governance/campaigns/")
    assert_no_axe_violations(page)


def test_handovers_and_dormant_pages_are_accessible(page, make_agent, owner, employee, board, unit):
    from registry import services
    from registry.models import Agent
    from telemetry.models import MonitoringState

    # given: a leaver's agent proposed to the unit head, and a dormant agent of the owner
    unit.head = employee
    unit.save()
    from tests.factories import UserFactory

    leaver = UserFactory(username="lee.leaver", business_unit=unit)
    make_agent("hr.leavers", agent_owner=leaver, actor=leaver, name="Leaver's helper")
    services.deprovision_user(leaver)
    quiet = make_agent("hr.quiet", name="Quiet helper")
    Agent.objects.filter(pk=quiet.pk).update(lifecycle="pilot", lifecycle_changed_at=timezone.now() - timedelta(200))
    MonitoringState.objects.update_or_create(agent=quiet, defaults={"last_seen_at": timezone.now() - timedelta(95)})

    # the proposed person accepts from the Handovers page
    login(page, employee.username, PASSWORD)
    page.get_by_role("link", name="Handovers").click()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Accept Leaver's helper").click()
    expect(page.get_by_text("You now own Leaver's helper.")).to_be_visible()
    logout(page)

    # the owner keeps the dormant agent with a reason
    login(page, owner.username, PASSWORD)
    page.goto(f"/governance/agents/{quiet.key}/dormant/")
    assert_no_axe_violations(page)
    page.get_by_label("Why keep it?").fill("Runs at year end only.")
    page.get_by_role("button", name="Keep it").click()
    expect(page.get_by_text("Quiet helper is kept.")).to_be_visible()
    logout(page)

    # the board's view of handovers is accessible too
    login(page, board.username, PASSWORD)
    page.goto("/handovers/")
    assert_no_axe_violations(page)
