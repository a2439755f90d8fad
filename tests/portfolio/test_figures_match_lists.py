"""Every figure on the portfolio dashboard that links to a list counts exactly the rows of that list:
one definition per figure, shared by the figure and its drill-down."""

import html
import re

import pytest

from tests.factories import AgentFactory, UserFactory

HEADLINE = re.compile(
    r'<a class="stat" href="(?P<url>[^"]+)" data-figure="(?P<key>[^"]+)">\s*<span class="value">(?P<value>[^<]*)</span>'
)
TABLE_CELL = re.compile(r'<t[dh][^>]*><a href="(?P<url>[^"]+)">(?P<value>\d+)</a></t[dh]>')
IN_ALL = re.compile(r"(\d+) in all")


def linked_figures(page: str) -> list[tuple[str, str, int]]:
    """(what, url, value) of every linked whole-number figure: the headline and every chart's table view."""
    found = []
    for m in HEADLINE.finditer(page):
        if m["value"].strip().isdigit():
            found.append((m["key"], html.unescape(m["url"]), int(m["value"])))
    for m in TABLE_CELL.finditer(page):
        found.append(("table cell", html.unescape(m["url"]), int(m["value"])))
    return found


def listed(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    counts = IN_ALL.findall(response.content.decode())
    assert len(counts) == 1, f"{url} shows no single count"
    return int(counts[0])


@pytest.fixture
def retired_orphan(world):
    """A retired agent whose owner has left: not orphaned (it needs no owner), on the figure and the list."""
    left = UserFactory(username="left-long-ago", is_active=False)
    return AgentFactory(key="old.bot", business_unit=world.finance, owner=left, lifecycle="retired")


@pytest.mark.parametrize("query", [{}, {"business_unit": "hr"}, {"pattern": "employee_enablement"}])
def test_every_linked_dashboard_figure_counts_the_list_it_opens(world, retired_orphan, leadership, client_for, query):
    # given
    client = client_for(leadership)
    page = client.get("/portfolio/", query).content.decode()
    figures = linked_figures(page)
    keys = {what for what, _, _ in figures}
    assert {"agents", "orphaned_agents", "open_findings", "reviews_overdue", "lifecycle.production"} <= keys
    assert sum(1 for what, _, _ in figures if what == "table cell") >= 10
    # when / then
    mismatches = [
        f"{what}: figure {value}, list {count} ({url})"
        for what, url, value in figures
        if (count := listed(client, url)) != value
    ]
    assert mismatches == [], "\n".join(mismatches)


def test_the_orphaned_figure_leaves_retired_agents_out_and_so_does_its_list(
    world, retired_orphan, leadership, client_for
):
    # given: a6 (production, owner gone) is orphaned; the retired old.bot is not
    client = client_for(leadership)
    # when
    dash = client.get("/portfolio/").context["dash"]
    catalog = client.get(dash.headline.orphaned_agents.url)
    # then
    assert dash.headline.orphaned_agents.value == 1
    assert [a.key for a in catalog.context["page"].object_list] == ["a6"]


def test_an_owner_sees_figures_that_match_their_own_lists(world, owner, client_for):
    client = client_for(owner)
    page = client.get("/portfolio/").content.decode()
    mismatches = [
        f"{what}: figure {value}, list {count} ({url})"
        for what, url, value in linked_figures(page)
        if (count := listed(client, url)) != value
    ]
    assert mismatches == [], "\n".join(mismatches)


def test_the_mine_filter_is_a_checkbox_that_keeps_the_readers_agents(world, owner, client_for):
    # given: the owner owns a1-a5, a7, a8; a6 belongs to someone who left
    client = client_for(owner)
    # when
    mine = client.get("/agents/", {"mine": "true"})
    everyone = client.get("/agents/")
    # then
    keys = {a.key for a in mine.context["page"].object_list}
    assert "a6" not in keys
    assert "a1" in keys
    assert everyone.context["page"].paginator.count > mine.context["page"].paginator.count
    assert 'type="checkbox" name="mine"' in mine.content.decode()
