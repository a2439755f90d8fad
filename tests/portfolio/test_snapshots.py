"""Daily snapshots and the trends read from them, across frozen days."""

from datetime import date

import time_machine
from django.utils import timezone

from portfolio import reports, tasks
from portfolio.models import PortfolioSnapshot
from portfolio.reports import PortfolioFilter, Scope
from registry.models import Agent, AuditEvent


def full_scope():
    return Scope(agents=Agent.objects.all(), full=True)


def test_a_snapshot_stores_the_counts_per_unit_pattern_and_tier(world):
    with time_machine.travel("2026-02-01 23:00Z"):
        result = tasks.take_snapshot.delay().get()
    snap = PortfolioSnapshot.objects.get()
    assert result == {"taken_on": "2026-02-01", "lines": snap.lines.count()}
    line = snap.lines.get(business_unit=world.hr, pattern="core_process", risk_tier="high")
    assert (line.agents, line.production_agents, line.maturity_traps) == (1, 0, 1)
    assert sum(x.agents for x in snap.lines.all()) == 7  # the retired agent is not counted
    assert sum(x.orphaned_agents for x in snap.lines.all()) == 1
    assert sum(x.open_findings for x in snap.lines.all()) == 3
    assert sum(x.open_findings_high for x in snap.lines.all()) == 2  # a1 high, a6 critical
    assert sum(x.reviews_overdue for x in snap.lines.all()) == 1
    assert snap.open_shadow_agents == 1
    assert AuditEvent.objects.filter(event_type="portfolio_snapshot.taken").count() == 1


def test_taking_it_twice_on_one_day_replaces_that_day(world):
    with time_machine.travel("2026-02-01 08:00Z"):
        tasks.take_snapshot.delay()
    Agent.objects.filter(pk=world.a7.pk).update(lifecycle="production")
    with time_machine.travel("2026-02-01 20:00Z"):
        tasks.take_snapshot.delay()
    snap = PortfolioSnapshot.objects.get()
    assert sum(x.production_agents for x in snap.lines.all()) == 4


def test_the_trend_reads_history_not_todays_data(world):
    # given: three days of snapshots while the portfolio changes
    with time_machine.travel("2026-02-01 12:00Z"):
        tasks.take_snapshot.delay()
    Agent.objects.filter(pk=world.a7.pk).update(lifecycle="production")
    with time_machine.travel("2026-02-02 12:00Z"):
        tasks.take_snapshot.delay()
    Agent.objects.filter(pk=world.a4.pk).update(lifecycle="retired")
    with time_machine.travel("2026-02-03 12:00Z"):
        tasks.take_snapshot.delay()
    # when: the agent later leaves; history must not move
    Agent.objects.filter(pk=world.a1.pk).delete()
    points = reports.trend(full_scope(), PortfolioFilter(), date(2026, 2, 3))
    # then
    assert [(p.day, p.agents, p.production_agents) for p in points] == [
        (date(2026, 2, 1), 7, 3),
        (date(2026, 2, 2), 7, 4),
        (date(2026, 2, 3), 6, 4),
    ]
    assert [p.maturity_traps for p in points] == [4, 4, 4]


def test_the_trend_follows_the_unit_filter_and_the_period(world):
    with time_machine.travel("2026-01-01 12:00Z"):
        tasks.take_snapshot.delay()
    with time_machine.travel("2026-02-01 12:00Z"):
        tasks.take_snapshot.delay()
    hr_points = reports.trend(full_scope(), PortfolioFilter(business_unit=world.hr, period="4w"), date(2026, 2, 1))
    assert [(p.day, p.agents) for p in hr_points] == [(date(2026, 2, 1), 4)]
    all_points = reports.trend(full_scope(), PortfolioFilter(period="12w"), date(2026, 2, 1))
    assert [p.day for p in all_points] == [date(2026, 1, 1), date(2026, 2, 1)]


def test_the_trend_follows_the_pattern_and_tier_filters_and_keeps_empty_days(world):
    with time_machine.travel("2026-02-01 12:00Z"):
        tasks.take_snapshot.delay()

    def agents(**filters):
        return [(p.day, p.agents) for p in reports.trend(full_scope(), PortfolioFilter(**filters), date(2026, 2, 1))]

    # employee enablement: a1 (hr, low) and a7 (finance, low); a5 is retired
    assert agents(patterns=("employee_enablement",)) == [(date(2026, 2, 1), 2)]
    assert agents(patterns=("employee_enablement",), business_unit=world.finance) == [(date(2026, 2, 1), 1)]
    assert agents(risk_tiers=("critical",)) == [(date(2026, 2, 1), 2)]  # a6, a8
    # no line matches, and the day still shows, at 0
    assert agents(patterns=("employee_enablement",), risk_tiers=("critical",)) == [(date(2026, 2, 1), 0)]


def test_weekly_keeps_the_last_day_of_each_seven_day_step(world):
    for day in ("2026-01-05", "2026-01-06", "2026-01-12"):
        with time_machine.travel(f"{day} 12:00Z"):
            tasks.take_snapshot.delay()
    points = reports.weekly(reports.trend(full_scope(), PortfolioFilter(), date(2026, 1, 12)))
    assert [p.day for p in points] == [date(2026, 1, 5), date(2026, 1, 12)]


def test_owners_get_no_organisation_wide_history(world):
    with time_machine.travel("2026-02-01 12:00Z"):
        tasks.take_snapshot.delay()
    assert reports.trend(reports.scope_for(world.owner), PortfolioFilter(), timezone.localdate()) is None
