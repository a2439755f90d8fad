"""Issue 5's journey in a real browser: a leader reads the portfolio, follows a chart into the catalog,
and downloads the catalog CSV and the board pack."""

import importlib

import pytest
from django.apps import apps
from playwright.sync_api import expect

from tests.browser.helpers import assert_no_axe_violations, login

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


@pytest.fixture
def policy(transactional_db):
    # An earlier live-server test may have flushed the migration's policy rows; put them back.
    importlib.import_module("portfolio.migrations.0002_default_pattern_minimums").load(apps, None)


def test_a_leader_reads_the_charts_follows_a_segment_and_downloads_csv_and_board_pack(
    page, policy, world, leadership, screenshot
):
    # when: the leadership viewer opens the portfolio
    login(page, leadership.username, PASSWORD)
    page.get_by_role("link", name="Portfolio").click()

    # then: the headline and the charts are on the page, as pictures with table views
    expect(page.get_by_role("heading", name="Agent portfolio", level=1)).to_be_visible()
    expect(page.locator('[data-figure="agents"] .value')).to_have_text("8")
    expect(page.locator("svg.chart").first).to_be_visible()
    assert page.locator("svg.chart").count() >= 6
    for title in (
        "Agents by pattern and risk tier",
        "Lifecycle funnel",
        "Maturity heat map",
        "Pattern readiness per unit",
    ):
        expect(page.get_by_role("heading", name=title)).to_be_visible()
    box = page.locator("#chart-pattern-tier svg.chart").bounding_box()
    assert box["width"] > 300
    assert box["height"] > 100
    screenshot(page, "dashboard")
    assert_no_axe_violations(page, context="the portfolio dashboard")

    # when: they click the low-risk segment of the employee-enablement bar
    page.locator('#chart-pattern-tier svg.chart a[aria-label="Employee AI enablement, Low: 2"]').click()

    # then: the catalog opens filtered to exactly those agents
    expect(page).to_have_url("/agents/?pattern=employee_enablement&risk_tier=low")
    results = page.locator("#results")
    expect(results.get_by_role("link", name="A1")).to_be_visible()
    expect(results.get_by_role("link", name="A7")).to_be_visible()
    expect(results.locator("tbody tr")).to_have_count(2)
    assert_no_axe_violations(page, context="catalog opened from a chart segment")

    # when: back on the portfolio they download the catalog CSV and the board pack
    page.go_back()
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Catalog CSV").click()
    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Board pack (PDF)").click()

    # then: both files hold the portfolio
    csv_text = open(csv_download.value.path(), encoding="utf-8-sig").read()  # noqa: PTH123
    assert csv_text.splitlines()[0].startswith("key,name,business_unit")
    assert len(csv_text.splitlines()) == 9
    assert csv_download.value.suggested_filename == "agents.csv"
    pdf = open(pdf_download.value.path(), "rb").read()  # noqa: PTH123
    assert pdf.startswith(b"%PDF")
    assert pdf_download.value.suggested_filename.startswith("board-pack-organisation-")

    # when: they narrow the portfolio to the finance unit through the filter form
    page.locator("#id_business_unit").select_option("finance")
    page.get_by_role("button", name="Apply").click()

    # then: the figures and the exports follow the filter
    expect(page.locator('[data-figure="agents"] .value')).to_have_text("2")  # a6 and a7
    with page.expect_download() as unit_csv:
        page.get_by_role("link", name="Catalog CSV").click()
    unit_rows = open(unit_csv.value.path(), encoding="utf-8-sig").read().splitlines()  # noqa: PTH123
    assert sorted(row.split(",")[0] for row in unit_rows[1:]) == ["a6", "a7"]

    # when: a link names a unit that does not exist
    page.goto("/portfolio/?business_unit=no-such-unit")

    # then: the page says the filter was not applied, beside the field, instead of failing
    expect(page.get_by_role("alert").filter(has_text="Select a valid choice")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="the figures below are not filtered")).to_be_visible()
    expect(page.locator('[data-figure="agents"] .value')).to_have_text("8")
