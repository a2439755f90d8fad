"""Issue 12's source page in a real browser: an administrator sees what a source rejected and why,
opens a refused item as it was sent, and teaches the source its own environment label."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from telemetry.environments import table_for
from telemetry.ingest import Rejection, parse_batch_event, store_events
from tests.browser.helpers import field, login

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


def test_an_administrator_reads_the_rejections_and_maps_a_label(page, admin, make_agent, source, screenshot):
    # given a source that stored one labelled event and refused one without a time
    make_agent("claims.assessor", name="Claims assessor")
    now = timezone.now()
    good = parse_batch_event({"agent": "claims.assessor", "environment": "blue-eu", "timestamp": now.isoformat()}, now)
    refused = {"agent": "claims.assessor", "environment": "prod"}
    store_events(source.pk, [good], now=now, rejections=[Rejection("bad_time", "event 1: timestamp: missing", refused)])

    # when the administrator opens the source
    login(page, admin.username, PASSWORD)
    page.goto(f"/telemetry/sources/{source.pk}/")

    # then the day's share and reason are shown, and the refused item as it was sent
    rejections = page.locator("#rejections")
    expect(rejections).to_contain_text("50.0%")
    expect(rejections).to_contain_text("Time outside the accepted range")
    rejections.get_by_text("Show").first.click()
    expect(rejections.locator("pre")).to_contain_text("'environment': 'prod'")
    # and the unknown label is kept beside "unspecified"
    expect(page.get_by_text("sent as blue-eu")).to_be_visible()
    screenshot(page, "rejections")

    # when the administrator maps the label to production
    field(page, "Aliases").fill("blue-* = production")
    field(page, "Default environment").select_option(label="Staging")
    page.get_by_role("button", name="Save environments").click()

    # then the source reads it from now on
    expect(page.get_by_text("Environments of Gateway EU saved.")).to_be_visible()
    source.refresh_from_db()
    assert table_for(source).resolve("blue-eu") == ("production", "blue-eu")
    assert table_for(source).resolve(None) == ("staging", "")

    # and a wrong line is said beside the field, nothing saved
    field(page, "Aliases").fill("blue-* production")
    page.get_by_role("button", name="Save environments").click()
    expect(page.get_by_text("Line 1: write “label = environment”.")).to_be_visible()
