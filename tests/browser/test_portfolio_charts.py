"""Issue 13's charts in a real browser: Chromium lays out every chart label inside its chart, and the
cost chart names its currency and its partial months."""

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.factories import AgentFactory, BusinessUnitFactory

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password
LONG_UNIT = "Research and Development Excellence and Advanced Manufacturing Engineering"

# Every <text> of every chart whose box, as Chromium lays it out, leaves the chart's viewBox.
OUTSIDE = """() => [...document.querySelectorAll('svg.chart')].flatMap(svg => {
  const vb = svg.viewBox.baseVal;
  return [...svg.querySelectorAll('text')].map(t => {
    const b = t.getBBox();
    return {chart: svg.closest('section').id, text: t.textContent, x0: b.x, x1: b.x + b.width, width: vb.width};
  }).filter(r => r.x0 < -0.5 || r.x1 > r.width + 0.5);
})"""


@pytest.fixture
def policy(transactional_db):
    importlib.import_module("portfolio.migrations.0002_default_pattern_minimums").load(apps, None)


@pytest.fixture
def long_names(world):
    """A unit whose name is longer than any label area, running an agent with users and cost."""
    unit = BusinessUnitFactory(name=LONG_UNIT, slug="rnd", parent=world.group)
    agent = AgentFactory(
        key="rnd1",
        name="Lab notebook assistant",
        business_unit=unit,
        owner=world.owner,
        pattern="expert_empowerment",
        risk_tier="medium",
        lifecycle="production",
        production_since=timezone.now(),
        eligible_users=1200,
        active_users=300,
    )
    from telemetry.models import DailyUsage

    today = timezone.localdate()
    for day in (today - timedelta(days=40), today):
        DailyUsage.objects.create(
            agent=agent, day=day, environment="production", invocations=900, cost=Decimal("1234.5")
        )
    return world


def test_every_chart_label_fits_inside_its_chart_and_the_cost_chart_is_priced(
    page, policy, long_names, leadership, screenshot
):
    # when the leadership viewer opens the portfolio
    login(page, leadership.username, PASSWORD)
    page.goto("/portfolio/")
    expect(page.locator("#chart-usage svg.chart")).to_be_visible()
    # then no label of any chart runs past its edges, as Chromium draws them
    assert page.evaluate(OUTSIDE) == []
    # and the long unit's name is drawn whole over two lines where there is room for two
    adoption = page.locator("#chart-adoption svg.chart text")
    assert "Research and Development" in " ".join(adoption.all_text_contents())
    # and the cost chart names its currency, prices each month and marks the month not over as partial
    usage = page.locator("#chart-usage")
    expect(usage.get_by_role("heading", name="Cost per month")).to_be_visible()
    texts = usage.locator("svg.chart text").all_text_contents()
    assert "Cost (EUR)" in texts
    assert "€1,235" in texts
    assert "partial" in texts
    assert any(t.startswith("€") and t.replace("€", "").replace(",", "").isdigit() for t in texts[:8])
    screenshot(page, "charts")
