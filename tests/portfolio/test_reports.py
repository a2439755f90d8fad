"""Every figure against the hand-computed fixture portfolio (tests/portfolio/fixtures.py)."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from portfolio import reports
from portfolio.reports import PortfolioFilter, Scope
from registry.models import Agent
from tests.factories import AgentFactory


@pytest.fixture
def full(world):
    return Scope(agents=Agent.objects.all(), full=True)


def values(cells):
    return {c.key: c.value for c in cells}


def test_headline_counts_agents_by_lifecycle_and_orphans(full):
    # when
    head = reports.headline(full, PortfolioFilter())
    # then
    assert head.total_agents.value == 8
    assert {f.key: f.value for f in head.by_lifecycle} == {
        "lifecycle.proposed": 1,
        "lifecycle.in_review": 1,
        "lifecycle.approved": 1,
        "lifecycle.pilot": 1,
        "lifecycle.production": 3,
        "lifecycle.suspended": 0,
        "lifecycle.retired": 1,
    }
    assert head.orphaned_agents.value == 1
    assert head.production_agents == 3


def test_headline_counts_open_findings_shadow_agents_overdue_reviews_and_compliance(full):
    head = reports.headline(full, PortfolioFilter())
    assert head.open_findings.value == 3
    assert {f.key: f.value for f in head.findings_by_severity} == {
        "findings.critical": 1,
        "findings.high": 1,
        "findings.medium": 1,
        "findings.low": 0,
    }
    assert head.open_shadow_agents.value == 1
    assert head.reviews_overdue.value == 1
    assert head.compliant_production_agents == 1
    assert head.compliant_percent.value == 33.3
    assert head.open_findings.url == "/governance/findings/?subject=agent&state=open"
    assert head.reviews_overdue.url == "/governance/findings/?subject=agent&kind=review_overdue&state=open"


def test_compliance_is_unknown_until_the_control_gap_check_has_run(full):
    from governance.models import CheckRun

    CheckRun.objects.all().delete()
    head = reports.headline(full, PortfolioFilter())
    assert head.compliant_percent.value is None
    assert head.compliant_percent.note == "compliance is not tracked yet"


def test_findings_figures_follow_the_unit_filter(full, world):
    head = reports.headline(full, PortfolioFilter(business_unit=world.hr))
    assert head.open_findings.value == 2
    assert head.reviews_overdue.value == 1
    assert head.open_findings.url == "/governance/findings/?subject=agent&business_unit=hr&state=open"


def test_a_unit_filter_includes_its_sub_units(full, world):
    # when
    head = reports.headline(full, PortfolioFilter(business_unit=world.hr))
    # then: a1-a3 in hr, a4-a5 in recruiting
    assert head.total_agents.value == 5
    assert {f.key: f.value for f in head.by_lifecycle}["lifecycle.production"] == 2
    assert head.orphaned_agents.value == 0


def test_pattern_and_tier_filters_narrow_the_figures(full):
    flt = PortfolioFilter(patterns=("employee_enablement",), risk_tiers=("low",))
    assert reports.headline(full, flt).total_agents.value == 2


def test_figures_link_to_the_filtered_catalog(full, world):
    head = reports.headline(full, PortfolioFilter(business_unit=world.hr))
    production = next(f for f in head.by_lifecycle if f.key == "lifecycle.production")
    assert production.url == "/agents/?business_unit=hr&lifecycle=production"
    assert head.orphaned_agents.url == "/agents/?business_unit=hr&orphaned=true"


def test_pattern_by_tier_splits_each_pattern_by_risk(full):
    rows = {r.key: values(r.cells) for r in reports.pattern_by_tier(full, PortfolioFilter())}
    assert rows["employee_enablement"] == {"low": 2, "medium": 0, "high": 0, "critical": 0, "unassessed": 1}
    assert rows["workplace_services"]["medium"] == 1
    assert rows["core_process"]["high"] == 1
    assert rows["expert_empowerment"]["high"] == 1
    assert rows["external_engagement"]["critical"] == 1
    assert rows["ai_first"]["critical"] == 1
    segment = next(c for c in reports.pattern_by_tier(full, PortfolioFilter())[0].cells if c.key == "low")
    assert segment.url == "/agents/?pattern=employee_enablement&risk_tier=low"


def test_funnel_runs_from_proposal_to_production_then_suspended_and_retired(full):
    funnel = reports.lifecycle_funnel(full, PortfolioFilter())
    assert [c.key for c in funnel] == [
        "proposed",
        "in_review",
        "approved",
        "pilot",
        "production",
        "suspended",
        "retired",
    ]
    assert [c.value for c in funnel] == [1, 1, 1, 1, 3, 0, 1]


def test_adoption_sums_eligible_and_active_users_of_running_agents(full, world):
    # unfiltered: the one root's divisions; running agents with eligible users are a1-a3, all under hr
    bars = reports.adoption_by_unit(full, PortfolioFilter())
    assert [(b.key, b.values) for b in bars] == [("hr", {"eligible": 350, "active": 90})]
    # under finance no running agent reports eligible users
    assert reports.adoption_by_unit(full, PortfolioFilter(business_unit=world.finance)) == []


def test_outcome_attainment_puts_each_running_agent_in_one_bucket(full):
    outcomes = reports.outcome_attainment(full, PortfolioFilter())
    assert values(outcomes.buckets) == {"met": 1, "on_track": 1, "behind": 1, "unmeasured": 1}
    # a2: lower is better, 100 -> 80 of the way to 50 is 40 %
    assert [(item.key, item.progress) for item in outcomes.lagging] == [("a2", 40.0)]


METRIC_CASES = [
    # (baseline, target, current): bucket; progress is (current - baseline) / (target - baseline)
    (("0", "10", "12"), "met"),
    ((None, "100", "60"), "on_track"),
    ((None, "100", "50"), "on_track"),  # exactly halfway
    ((None, "100", "49"), "behind"),
    (("100", "50", "80"), "behind"),  # lower is better: 40 % of the way
    (("100", "50", "75"), "on_track"),
    (("100", "50", "40"), "met"),
    (("5", "5", "5"), "met"),  # target equal to its baseline
    (("5", "5", "4"), "behind"),
    (("10", "20", "5"), "behind"),  # moved away from the target
    (("0.50", "1.25", "0.90"), "on_track"),
    ((None, None, "3"), "unmeasured"),
    (("0", "10", None), "unmeasured"),
]


def test_outcome_buckets_agree_with_the_agent_list_behind_each_bucket(unit, owner):
    # given: running agents with every kind of metric, and one proposed agent that is not counted
    for n, ((baseline, target, current), _) in enumerate(METRIC_CASES):
        AgentFactory(
            key=f"m{n:02}",
            business_unit=unit,
            owner=owner,
            lifecycle="production" if n % 2 else "pilot",
            production_since=timezone.now(),
            **{
                f"metric_{name}": Decimal(value) if value is not None else None
                for name, value in zip(("baseline", "target", "current"), (baseline, target, current), strict=True)
            },
        )
    AgentFactory(key="idea", business_unit=unit, owner=owner, lifecycle="proposed", metric_target=Decimal(1))
    # when
    outcomes = reports.outcome_attainment(Scope(Agent.objects.all(), True), PortfolioFilter())
    # then: the figure counts each running agent once, in its bucket
    expected = {key: sum(1 for _, bucket in METRIC_CASES if bucket == key) for key, _ in reports.OUTCOME_BUCKETS}
    assert values(outcomes.buckets) == expected
    # and the list each bucket links to (the ORM's rule) holds exactly those agents
    for key, _ in reports.OUTCOME_BUCKETS:
        listed = reports.with_outcome(Agent.objects.filter(lifecycle__in=reports.RUNNING)).filter(outcome=key)
        assert listed.count() == expected[key], key
    # the furthest behind first: away from the target, no span, 40 %, 49 %
    assert [(item.key, item.progress) for item in outcomes.lagging] == [
        ("m09", -50.0),
        ("m08", 0.0),
        ("m04", 40.0),
        ("m03", 49.0),
    ]


def test_shared_tools_count_live_agents_only(full):
    tools = reports.shared_tools(full, PortfolioFilter())
    assert [(c.key, c.value) for c in tools] == [("crm.read", 2)]
    assert tools[0].url == "/portfolio/agents/?tool=crm.read"


def test_maturity_overall_is_the_weakest_dimension_and_names_the_ceiling(full, world):
    units = {um.unit.slug: um for um in reports.maturity(full, PortfolioFilter(), date(2026, 2, 1))}
    assert units["group"].overall == 2
    assert units["group"].ceiling == ["adoption"]
    assert units["hr"].scores == {"strategy": 3, "process": 2, "governance": 4, "technology": 3, "adoption": 3}
    assert units["hr"].ceiling == ["process"]


def test_a_unit_without_assessment_inherits_its_closest_assessed_ancestor(full, world):
    units = {um.unit.slug: um for um in reports.maturity(full, PortfolioFilter(), date(2026, 2, 1))}
    assert units["recruiting"].inherited_from == world.hr
    assert units["recruiting"].overall == 2
    assert units["finance"].inherited_from == world.group


def test_maturity_as_of_an_earlier_day_uses_the_assessment_of_that_time(full, world):
    units = {um.unit.slug: um for um in reports.maturity(full, PortfolioFilter(), date(2025, 12, 1))}
    assert units["hr"].scores == {d: 2 for d in units["hr"].scores}
    assert units["group"].assessment is None


def test_readiness_lists_short_dimensions_and_gap_size(full, world):
    units = {um.unit.slug: um for um in reports.maturity(full, PortfolioFilter(), date(2026, 2, 1))}
    hr = {r.pattern: r for r in units["hr"].readiness}
    assert hr["employee_enablement"].ready is True
    assert hr["expert_empowerment"].ready is True
    assert [(s.dimension, s.has, s.needs) for s in hr["workplace_services"].shortfalls] == [("process", 2, 3)]
    assert hr["core_process"].gap == 2
    assert [(s.dimension, s.gap) for s in hr["external_engagement"].shortfalls] == [("process", 1), ("technology", 1)]
    assert hr["ai_first"].gap == 5
    # agents of hr itself (not recruiting) decide the trap marks
    assert hr["workplace_services"].trapped
    assert hr["core_process"].trapped
    assert not hr["ai_first"].trapped
    group = {r.pattern: r for r in units["group"].readiness}
    assert group["ai_first"].gap == 6
    assert group["ai_first"].trapped
    assert units["hr"].ready_patterns == ["employee_enablement", "expert_empowerment"]


def test_an_owner_scope_counts_only_their_own_and_delegated_agents(world, employee):
    # given: the owner owns every fixture agent except a6; the employee owns none
    owner_scope = reports.scope_for(world.owner)
    # then
    assert owner_scope.full is False
    assert reports.headline(owner_scope, PortfolioFilter()).total_agents.value == 7
    assert reports.headline(reports.scope_for(employee), PortfolioFilter()).total_agents.value == 0


def test_leadership_scope_is_the_whole_portfolio(world, leadership):
    scope = reports.scope_for(leadership)
    assert scope.full is True
    assert reports.headline(scope, PortfolioFilter()).total_agents.value == 8


def test_dashboard_bundles_every_section(full):
    dash = reports.dashboard(full, PortfolioFilter(), timezone.now())
    assert dash.headline.total_agents.value == 8
    assert len(dash.pattern_by_tier) == 6
    assert dash.trend == []
    assert dash.usage == []


def test_the_dashboard_reads_everything_in_nine_queries(full, django_assert_num_queries):
    # one grouped scan of the agents; the findings figures (with shadow agents and whether compliance is
    # tracked); the trend; units; the policy; the latest assessments; usage; the lagging outcomes; shared tools
    with django_assert_num_queries(9):
        reports.dashboard(full, PortfolioFilter(), timezone.now())


def test_the_headline_alone_reads_in_two_queries(full, django_assert_num_queries):
    # the agent counts; the findings figures (with shadow agents and whether compliance is tracked)
    with django_assert_num_queries(2):
        reports.headline(full, PortfolioFilter())


def test_cost_and_usage_are_summed_per_month_from_the_daily_rollups(full, world):
    # given
    from telemetry.models import DailyUsage

    for agent, day, cost, calls in (
        (world.a1, date(2026, 1, 5), Decimal("1.50"), 10),
        (world.a1, date(2026, 1, 20), Decimal("2.25"), 5),
        (world.a3, date(2026, 2, 2), Decimal("4.00"), 7),
        (world.a7, date(2025, 10, 1), Decimal("9.00"), 99),  # before the 12-week window
    ):
        DailyUsage.objects.create(
            agent=agent,
            day=day,
            environment="production",
            invocations=calls,
            cost=cost,
            input_tokens=100,
            output_tokens=20,
        )
    # when
    months = reports.usage_by_month(full, PortfolioFilter(), date(2026, 2, 10))
    # then
    assert [(m.month, m.cost, m.invocations, m.tokens) for m in months] == [
        (date(2026, 1, 1), Decimal("3.75"), 15, 240),
        (date(2026, 2, 1), Decimal("4.00"), 7, 120),
    ]
    hr_only = reports.usage_by_month(full, PortfolioFilter(business_unit=world.finance), date(2026, 2, 10))
    assert hr_only == []
