"""Daily use in a real browser: each role lands on its work; the findings and catalog filters show every
option and sort the most serious first; the agent page keeps its history short and its cards readable at
1400 px. Every page visited is checked with axe-core for WCAG 2.1 A/AA violations."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from governance.models import CheckRun, Finding
from registry import services as registry_services
from tests.browser.helpers import assert_accessible, login, logout

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


@pytest.mark.parametrize(
    ("persona", "path", "heading"),
    [
        ("owner", "/", "My agents"),
        ("board", "/governance/queue/", "Review queue"),
        ("leadership", "/portfolio/", "Agent portfolio"),
        ("admin", "/governance/overview/", "Operations overview"),
    ],
)
def test_each_role_lands_on_its_work(page, request, persona, path, heading, agent, screenshot):
    # given
    user = request.getfixturevalue(persona)
    now = timezone.now()
    CheckRun.objects.create(check_kind="control_gap", started_at=now, finished_at=now, status="succeeded")
    # when
    login(page, user.username, PASSWORD)
    # then
    assert page.url.endswith(path), page.url
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    if persona == "board":
        expect(page.locator('[data-figure="waiting"] .value')).to_have_text("0")
    if persona == "admin":
        expect(page.locator('[data-check="control_gap"]')).to_be_visible()
    assert_accessible(page)
    # and the brand link brings them back to the same page
    page.goto("/agents/")
    page.get_by_role("link", name="Agent Registry").click()
    page.wait_for_url(f"**{path}")
    screenshot(page, f"landing-{persona}")


def test_findings_sort_the_most_serious_first_and_filters_show_every_option(page, board, make_agent, screenshot):
    # given: findings of three severities, the critical one the newest
    now = timezone.now()
    for i, (severity, days) in enumerate([("low", 10), ("critical", 1), ("high", 3), ("critical", 6)]):
        Finding.objects.create(
            kind="control_gap",
            severity=severity,
            agent=make_agent(key=f"hr.daily-{i}", name=f"Daily {i}"),
            summary=f"{severity} for {days} days",
            opened_at=now - timedelta(days=days),
        )
    login(page, board.username, PASSWORD)
    # when
    page.goto("/governance/findings/")
    # then: most serious first, the older of the two critical ones first
    summaries = page.locator("table:not(:has(th:text('Check'))) tbody tr td:last-child").all_inner_texts()
    assert summaries == ["critical for 6 days", "critical for 1 days", "high for 3 days", "low for 10 days"]
    # every option of every multi-choice filter is on screen, no Ctrl-click needed
    kinds = page.locator('fieldset:has(legend:text-is("Kind")) input[type=checkbox]')
    assert kinds.count() >= 15
    for i in range(kinds.count()):
        expect(kinds.nth(i)).to_be_visible()
    assert page.locator("select[multiple]").count() == 0
    assert_accessible(page)
    # when: two severities are ticked
    severity = page.get_by_role("group", name="Severity")
    severity.get_by_label("High", exact=True).check()
    severity.get_by_label("Low", exact=True).check()
    page.get_by_role("button", name="Filter").click()
    # then
    summaries = page.locator("table:not(:has(th:text('Check'))) tbody tr td:last-child").all_inner_texts()
    assert summaries == ["high for 3 days", "low for 10 days"]
    screenshot(page, "findings")

    # and the catalog's filters are checkbox groups too, applied as they are ticked
    page.goto("/agents/")
    assert page.locator("select[multiple]").count() == 0
    for group in ("Pattern", "Risk tier", "Lifecycle"):
        options = page.locator(f'fieldset:has(legend:text-is("{group}")) input[type=checkbox]')
        assert options.count() >= 4
        for i in range(options.count()):
            expect(options.nth(i)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("group", name="Lifecycle").get_by_label("Retired").check()
    expect(page.locator("#results")).to_contain_text("0 in all")
    screenshot(page, "catalog")


def test_the_agent_page_keeps_history_short_and_cards_readable_at_1400px(page, agent, owner, screenshot):
    # given: a production-length history and an owner with a long address
    owner.email = "olivia.martinez-hargreaves@aldermoor.example"
    owner.save()
    for i in range(30):
        registry_services.update_agent(agent, actor=owner, objective=f"Answer leave questions, revision {i}")
    page.set_viewport_size({"width": 1400, "height": 900})
    login(page, owner.username, PASSWORD)
    # when
    page.goto(f"/agents/{agent.key}/")
    # then: twenty entries and a way to the rest
    expect(page.locator("ol.timeline > li")).to_have_count(20)
    # the four summary cards reflow to two rows, and the address stays on one line
    tops = page.locator(".grid.summary > .card").evaluate_all("cards => cards.map(c => c.getBoundingClientRect().top)")
    assert len(tops) == 4
    assert len({round(t) for t in tops}) == 2
    assert page.locator("a.email").evaluate("a => a.getClientRects().length") == 1
    # the history no longer makes the page: its section stays short however long the trail is (the page
    # also carries the stop switch, the still-to-complete checklist and the runtime and drift panels)
    history = page.locator("section[aria-labelledby=history-h]").evaluate("s => s.getBoundingClientRect().height")
    assert history < 1600, history
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 5000, height
    assert_accessible(page)
    screenshot(page, "agent-page")

    # when: the owner opens the full history and keeps only ownership and delegate entries
    page.get_by_role("link", name="Full history, filterable by kind").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"History of {agent.name}")
    expect(page.locator("ol.timeline > li")).to_have_count(32)
    assert_accessible(page)
    page.get_by_label("Delegate granted").check()
    page.get_by_label("Agent registered").check()
    page.get_by_role("button", name="Filter").click()
    # then
    expect(page.locator("ol.timeline > li")).to_have_count(2)
    events = page.locator("ol.timeline > li").evaluate_all("items => items.map(i => i.dataset.event)")
    assert events == ["agent.delegate_granted", "agent.created"]
    screenshot(page, "agent-history")
    logout(page)
