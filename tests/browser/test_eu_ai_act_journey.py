"""EU AI Act in a real browser: the owner marks an incident serious, sees its clock, records the initial
report to the authority and downloads the regulator report; the board sees the obligations timeline."""

import pytest
from playwright.sync_api import expect

from governance import services
from tests.browser.helpers import field, login, logout

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


def test_an_owner_puts_a_serious_incident_on_the_clock_and_reports_it(page, agent, owner, board, screenshot):
    # given: an incident of the owner's agent
    incident = services.report_incident(
        agent, actor=owner, title="Leaked a payslip", severity="high", what_happened="Showed a colleague's payslip."
    )
    login(page, owner.username, PASSWORD)
    page.goto(f"/governance/agents/{agent.key}/")
    page.get_by_role("link", name="Leaked a payslip").click()
    expect(page.get_by_text("Not marked a serious incident.")).to_be_visible()

    # when: the owner marks it serious, aware since it was detected
    field(page, "Serious-incident category").select_option(
        label="Infringement of fundamental-rights obligations (Art. 3(49)(c))"
    )
    field(page, "Organisation became aware").fill(incident.detected_at.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Save").click()

    # then: the clock runs, 15 days, with the initial report due
    expect(page.get_by_text("Marked a serious incident; the report clock is running.")).to_be_visible()
    expect(page.locator("#time-left")).to_contain_text("14 d")
    expect(page.get_by_text("Initial report by")).to_be_visible()
    screenshot(page, "clock-running")

    # when: the initial report is recorded
    field(page, "Kind").select_option(label="Initial report (may be incomplete)")
    field(page, "Sent (UTC)").fill(incident.detected_at.strftime("%Y-%m-%dT%H:%M"))
    field(page, "Authority").fill("Data protection authority")
    field(page, "Reference").fill("DPA-42")
    page.get_by_role("button", name="Record report").click()

    # then: it is listed, the clock says reported, and follow-ups are still due
    expect(page.get_by_text("Report to the authority recorded.")).to_be_visible()
    expect(page.get_by_role("cell", name="DPA-42")).to_be_visible()
    expect(page.locator("#time-left")).to_have_text("Reported")
    expect(page.get_by_text("Follow-up reports completing the initial one")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Regulator report (PDF)").click()
    assert download.value.suggested_filename.endswith(".pdf")
    logout(page)

    # when: a board member opens the obligations timeline
    login(page, board.username, PASSWORD)
    page.goto("/governance/eu-ai-act/")
    expect(page.locator("#obligation-transparency")).to_contain_text("2 Aug 2026")
    expect(page.locator("#obligation-high_risk_annex_iii")).to_contain_text("2 Dec 2027")
    screenshot(page, "obligations")
