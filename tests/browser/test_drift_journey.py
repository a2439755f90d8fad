"""In a real browser: an owner sees on the agent page which metric drifted and where it left its band; a
board member finds the drifting agent in the portfolio's quality panel and reads the chargeback."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from governance import checks
from telemetry.models import LATENCY_BUCKET_FIELDS, DailyUsage
from tests.browser.helpers import login, logout

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


def test_owner_reads_the_drift_chart_and_the_board_the_quality_panel(page, owner, board, make_agent, screenshot):
    # given an agent whose error rate jumped in the last three days
    agent = make_agent("hr.leave-assistant", name="Leave assistant")
    today = timezone.now().date()
    buckets = dict.fromkeys(LATENCY_BUCKET_FIELDS, 0)
    DailyUsage.objects.bulk_create(
        DailyUsage(
            agent=agent,
            day=today - timedelta(days=n),
            environment="production",
            invocations=200,
            errors=30 if n < 3 else 4,
            cost=Decimal("1.50"),
            latency_ms_total=200 * 700.0,
            latency_samples=200,
            **{**buckets, "latency_le_1s": 200},
        )
        for n in range(60)
    )
    checks.run_check("drift")

    # when the owner opens the agent page
    login(page, owner.username, PASSWORD)
    page.goto(f"/agents/{agent.key}/")

    # then the drift panel names the metric and the chart marks the days outside the band
    expect(page.get_by_role("link", name="Leave assistant drifts: error rate in production up").first).to_be_visible()
    chart = page.get_by_role("img", name="Error rate (production), last 90 days")
    expect(chart).to_be_visible()
    page.get_by_text("Table view").first.click()
    screenshot(page, "drift-panel")
    logout(page)

    # when a board member opens the portfolio
    login(page, board.username, PASSWORD)
    page.goto("/portfolio/")

    # then the quality panel lists the drifting agent, and the chargeback its month's cost
    expect(page.get_by_role("heading", name="Drifting now")).to_be_visible()
    expect(page.get_by_role("link", name="Leave assistant").first).to_be_visible()
    charges = page.get_by_role("table", name="Cost per agent")
    expect(charges.get_by_role("row").nth(1)).to_contain_text("Leave assistant")
    screenshot(page, "quality-and-chargeback")
