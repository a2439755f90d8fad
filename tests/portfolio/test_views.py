import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portfolio.models import MaturityAssessment
from registry.models import Agent
from tests.factories import AgentFactory, UserFactory


def test_the_dashboard_shows_figures_and_inline_svg_charts(world, leadership, client_for):
    # when
    response = client_for(leadership).get("/portfolio/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") >= 6
    assert 'data-figure="agents"' in html
    # every chart segment is a link to the list behind it
    assert '<a href="/agents/?pattern=employee_enablement&amp;risk_tier=low"' in html
    assert '<a href="/agents/?lifecycle=production"' in html


def test_the_dashboard_page_carries_no_inline_style_or_script(world, leadership, client_for):
    html = client_for(leadership).get("/portfolio/").content.decode()
    assert not re.search(r"\sstyle=", html)
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)


def test_each_chart_has_a_table_view(world, leadership, client_for):
    html = client_for(leadership).get("/portfolio/").content.decode()
    assert html.count("<summary>Table view</summary>") >= 6


def test_the_dashboard_filters_by_unit_including_sub_units(world, leadership, client_for):
    response = client_for(leadership).get("/portfolio/", {"business_unit": "hr"})
    assert response.context["dash"].headline.total_agents.value == 5
    assert b"/agents/?business_unit=hr&amp;lifecycle=production" in response.content


def test_an_owner_sees_a_dashboard_of_their_own_agents_without_exports(world, client_for):
    response = client_for(world.owner).get("/portfolio/")
    assert response.status_code == 200
    assert response.context["dash"].headline.total_agents.value == 7
    assert b"Board pack" not in response.content
    assert b"limited to the agents you own" in response.content


def test_a_bad_filter_value_falls_back_and_says_so_beside_the_field(world, leadership, client_for):
    response = client_for(leadership).get("/portfolio/", {"business_unit": "nope", "period": "99y"})
    assert response.status_code == 200
    assert response.context["dash"].headline.total_agents.value == 8  # the whole portfolio, not a made-up unit
    html = response.content.decode()
    assert html.count('<div class="field-errors" role="alert"><ul class="errorlist">') == 2
    assert "Select a valid choice" in html
    assert "the figures below are not filtered" in html


def test_an_export_with_a_bad_filter_is_refused_with_the_parameter_named(world, leadership, client_for):
    response = client_for(leadership).get("/portfolio/export/agents.csv", {"business_unit": "nope"})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain"
    assert "business_unit: Select a valid choice" in response.content.decode()
    # a good filter still downloads that unit's agents only
    good = client_for(leadership).get("/portfolio/export/agents.csv", {"business_unit": "finance"})
    assert good.status_code == 200
    assert len(b"".join(good.streaming_content).decode().splitlines()) == 1 + 2  # header, a6 and a7


def test_an_export_is_refused_for_permission_before_its_filter_is_read(world, client_for):
    response = client_for(world.owner).get("/portfolio/export/board-pack.pdf", {"period": "99y"})
    assert response.status_code == 403


def test_the_unit_maturity_page_names_the_ceiling_and_keeps_history(world, employee, client_for):
    response = client_for(employee).get("/portfolio/maturity/hr/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "held back by" in html
    assert ">process</strong>" in html
    assert html.count('<tr><th scope="row">20') == 2  # two assessments in the history


def test_an_inheriting_unit_says_whose_assessment_it_shows(world, employee, client_for):
    html = client_for(employee).get("/portfolio/maturity/recruiting/").content.decode()
    assert "closest assessed parent" in html


def test_a_board_member_records_an_assessment_through_the_form(world, board, client_for):
    data = {"assessed_on": timezone.localdate().isoformat(), "notes": ""}
    for d in ("strategy", "process", "governance", "technology", "adoption"):
        data[d] = "4"
        data[f"{d}_rationale"] = f"{d} is solid"
    response = client_for(board).post("/portfolio/maturity/finance/assess/", data)
    assert response.status_code == 302
    assert MaturityAssessment.objects.filter(business_unit=world.finance, assessed_by=board).count() == 1


def test_the_assess_form_shows_errors_instead_of_failing(world, board, client_for):
    response = client_for(board).post("/portfolio/maturity/finance/assess/", {"assessed_on": "2999-01-01"})
    assert response.status_code == 200
    assert b"errorlist" in response.content


def test_the_portfolio_agent_list_filters_by_tool_outcome_and_trap(world, leadership, client_for):
    client = client_for(leadership)
    by_tool = client.get("/portfolio/agents/", {"tool": "crm.read"}).context["page"].object_list
    assert sorted(a.key for a in by_tool) == ["a1", "a2"]
    behind = client.get("/portfolio/agents/", {"outcome": "behind"}).context["page"].object_list
    assert [a.key for a in behind] == ["a2"]
    trapped = client.get("/portfolio/agents/", {"trap": "1", "business_unit": "hr"}).context["page"].object_list
    assert sorted(a.key for a in trapped) == ["a2", "a3"]


def _make_agents(n, unit, owner, start=0):
    Agent.objects.bulk_create(
        [
            AgentFactory.build(
                key=f"bulk.agent-{i}",
                name=f"Bulk {i}",
                business_unit=unit,
                owner=owner,
                pattern=("employee_enablement", "core_process", "ai_first")[i % 3],
                risk_tier=("low", "high", "")[i % 3],
                lifecycle=("proposed", "pilot", "production")[i % 3],
                eligible_users=100,
                active_users=i % 100,
                mode="assist",
            )
            for i in range(start, start + n)
        ]
    )


def _count_queries(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/portfolio/")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_dashboard_query_count_does_not_grow_with_the_portfolio(world, leadership, client_for):
    # given: 10 agents
    client = client_for(leadership)
    owner = UserFactory(username="bulk-owner")
    _make_agents(2, world.hr, owner)
    assert Agent.objects.count() == 10
    client.get("/portfolio/")  # warm the session and content-type caches
    at_10 = _count_queries(client)
    # when: 1,000 agents
    _make_agents(990, world.finance, owner, start=2)
    assert Agent.objects.count() == 1000
    at_1000 = _count_queries(client)
    # then
    assert at_1000 == at_10
