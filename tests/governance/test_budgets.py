"""Monthly budgets: who sets them, the month-end forecast, and the budget_overrun finding."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from governance import checks, services
from governance.drift import budget_status, forecast
from governance.models import Budget, Finding
from registry.models import AuditEvent
from telemetry.models import DailyUsage
from tests.factories import BusinessUnitFactory

# The 10th of a 30-day month, 06:00 UTC: a quarter of today is gone, 20 days remain after today.
NOW = datetime(2026, 4, 10, 6, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def spend(agent, days_ago, cost, environment="production"):
    DailyUsage.objects.create(
        agent=agent,
        day=NOW.date() - timedelta(days=days_ago),
        environment=environment,
        invocations=100,
        cost=Decimal(cost),
    )


def test_forecast_at_todays_and_the_seven_day_run_rate():
    # given: 90 spent this month, 2.50 today by 06:00, 35 in the last 7 days
    f = forecast(Decimal("90"), Decimal("2.50"), Decimal("35"), NOW)
    # then: today's rate is 10/day (2.50 in a quarter day); the 7-day rate 5/day
    assert f.month_to_date == Decimal("90.00")
    assert f.at_today_rate == Decimal("90") + Decimal("7.50") + Decimal("200")
    assert f.at_7_day_rate == Decimal("90") + Decimal("5") * Decimal("20.75")
    assert f.highest == f.at_today_rate


def test_budgets_set_by_owner_for_the_agent_and_by_administrators_for_units(agent, owner, admin, outsider, unit):
    with pytest.raises(PermissionDenied):
        services.set_agent_budget(agent, 100, actor=outsider)
    with pytest.raises(PermissionDenied):
        services.set_unit_budget(unit, 1000, actor=owner)
    with pytest.raises(ValidationError) as refused:
        services.set_agent_budget(agent, "-5", actor=owner)
    assert "monthly_amount" in refused.value.message_dict

    services.set_agent_budget(agent, 100, actor=owner)
    budget = services.set_agent_budget(agent, "150.50", actor=owner)
    services.set_unit_budget(unit, 1000, actor=admin)

    assert Budget.objects.count() == 2
    assert budget.monthly_amount == Decimal("150.50")
    changes = list(AuditEvent.objects.filter(event_type="budget.set").order_by("seq"))
    assert len(changes) == 3
    assert (changes[1].before, changes[1].after) == ({"monthly_amount": "100.00"}, {"monthly_amount": "150.50"})
    assert changes[1].agent_id == agent.pk


def test_unit_budget_covers_sub_units_and_overrun_finding_rises_when_actual_cost_passes(
    frozen, make_agent, admin, owner, unit, other_unit
):
    # given: an agent in HR and one in a sub-unit of HR; one in Finance (not covered)
    team = BusinessUnitFactory(name="Recruiting", slug="recruiting", parent=unit)
    hr_agent = make_agent("hr.a")
    team_agent = make_agent("hr.b", business_unit=team)
    finance_agent = make_agent("fin.c", business_unit=other_unit)
    for days_ago in range(10):  # the 1st to the 10th: 10 a day each
        for a in (hr_agent, team_agent, finance_agent):
            spend(a, days_ago, "10" if days_ago else "2.5")
    spend(hr_agent, 12, "500")  # last month: not this month's cost
    services.set_unit_budget(unit, 500, actor=admin)
    services.set_agent_budget(hr_agent, 1000, actor=owner)

    # then: the unit's month to date sums HR and its sub-unit only
    status = {(s["budget"].business_unit_id, s["budget"].agent_id): s["forecast"] for s in budget_status(NOW)}
    unit_forecast = status[(unit.pk, None)]
    assert unit_forecast.month_to_date == Decimal("185.00")
    # 20 a day at both rates: today's 5 by 06:00, and 140 in the 7 days before today
    assert (unit_forecast.at_today_rate, unit_forecast.at_7_day_rate) == (Decimal("600.00"), Decimal("600.00"))

    # when: the check runs
    checks.run_check("budget_overrun", now=NOW)

    # then: the unit's forecast passes 500 by more than 10% -> a medium finding; the agent is within budget
    finding = Finding.objects.open().get(kind="budget_overrun")
    assert finding.identity == "business-unit:hr"
    assert finding.severity == "medium"
    assert "forecast to spend" in finding.summary

    # when: the actual cost passes the budget
    DailyUsage.objects.filter(agent=team_agent, day=NOW.date() - timedelta(days=1)).update(cost=Decimal("510"))
    checks.run_check("budget_overrun", now=NOW)

    # then: the same finding, now high
    finding.refresh_from_db()
    assert finding.resolved_at is None
    assert finding.severity == "high"
    assert finding.details["actual_passed"] is True


def test_agent_budget_within_margin_raises_nothing_and_clears(frozen, agent, owner):
    for days_ago in range(10):
        spend(agent, days_ago, "10" if days_ago else "2.5")
    # forecast about 300; a budget of 280 is passed by less than 10%
    services.set_agent_budget(agent, 280, actor=owner)
    checks.run_check("budget_overrun", now=NOW)
    assert not Finding.objects.filter(kind="budget_overrun").exists()

    services.set_agent_budget(agent, 200, actor=owner)
    checks.run_check("budget_overrun", now=NOW)
    finding = Finding.objects.open().get(kind="budget_overrun", agent=agent)
    assert finding.severity == "medium"

    services.set_agent_budget(agent, 400, actor=owner)
    checks.run_check("budget_overrun", now=NOW)
    finding.refresh_from_db()
    assert finding.resolved_at is not None


def test_owner_sets_the_budget_on_the_agent_page_and_bad_input_is_named(agent, client_for, owner, admin, unit):
    client = client_for(owner)
    url = reverse("governance:agent-budget", args=[agent.key])

    refused = client.post(url, {"monthly_amount": "lots"}, follow=True)
    assert "monthly amount: Give an amount" in refused.text
    assert not Budget.objects.exists()

    client.post(url, {"monthly_amount": "750"})
    page = client.get(reverse("registry:agent-detail", args=[agent.key]))
    assert "Monthly budget: 750.00." in page.text

    # an administrator sets the unit's budget and a parameter on the costs page
    admin_client = client_for(admin)
    admin_client.post(reverse("governance:unit-budget", args=[unit.slug]), {"monthly_amount": "9000"})
    bad = admin_client.post(reverse("governance:drift-parameters"), {"mads": "0"}, follow=True)
    assert "mads:" in bad.text
    admin_client.post(reverse("governance:drift-parameters"), {"mads": "4"})
    costs = client.get(reverse("governance:costs"))
    assert costs.status_code == 200
    assert "9000.00" in costs.text
    assert "version 1" in costs.text


def test_the_owner_removes_the_budget_and_an_outsider_may_not(agent, client_for, owner, outsider):
    url = reverse("governance:agent-budget", args=[agent.key])
    client_for(owner).post(url, {"monthly_amount": "750"})
    # an outsider's removal is refused and the budget stays
    assert client_for(outsider).post(url, {"remove": "1"}).status_code in (403, 404)
    assert Budget.objects.filter(agent=agent).exists()
    # the owner's removal takes it away, audited, and the page says so
    page = client_for(owner).post(url, {"remove": "1"}, follow=True)
    assert not Budget.objects.filter(agent=agent).exists()
    assert "No monthly budget." in page.text
    assert AuditEvent.objects.filter(event_type="budget.removed").exists()


def test_parameters_that_are_not_finite_or_notes_with_nul_are_refused(admin, client_for):
    with pytest.raises(ValidationError) as not_finite:
        services.update_drift_policy({"mads": "nan", "min_relative_move": "inf"}, actor=admin)
    assert set(not_finite.value.message_dict) == {"mads", "min_relative_move"}
    with pytest.raises(ValidationError) as nul:
        services.update_drift_policy({"mads": "4"}, actor=admin, notes="a\x00b")
    assert "notes" in nul.value.message_dict
    page = client_for(admin).post(reverse("governance:drift-parameters"), {"mads": "nan"}, follow=True)
    assert page.status_code == 200
    assert "mads:" in page.text


def test_forecasts_are_summed_by_the_database_in_a_fixed_number_of_queries(
    make_agent, admin, owner, unit, other_unit, django_assert_num_queries
):
    """Early in a month the 7-day run rate reaches into the last one, the month to date does not; and
    the number of agents does not change the number of queries (nor what is read: only budgeted
    agents, and one row per unit)."""
    # given: the 3rd of May; 4 a day for two weeks on each of 12 agents in Finance, one budgeted agent in HR
    now = datetime(2026, 5, 3, 12, tzinfo=UTC)
    budgeted = make_agent("hr.budgeted")
    others = [make_agent(f"fin.agent-{i}", business_unit=other_unit) for i in range(12)]
    for days_ago in range(14):
        day = now.date() - timedelta(days=days_ago)
        for a in (budgeted, *others):
            DailyUsage.objects.create(agent=a, day=day, environment="production", cost=Decimal("4"))
    services.set_agent_budget(budgeted, 100, actor=owner)
    # when: only agent budgets
    with django_assert_num_queries(2):
        (entry,) = budget_status(now)
    # then: month to date is the 1st to the 3rd; the 7 full days before today span April and May
    f = entry["forecast"]
    assert f.month_to_date == Decimal("12.00")
    assert f.at_7_day_rate == forecast(Decimal("12"), Decimal("4"), Decimal("28"), now).at_7_day_rate
    # when: a unit's budget too
    services.set_unit_budget(other_unit, 1000, actor=admin)
    with django_assert_num_queries(3):
        status = {s["budget"].business_unit_id: s["forecast"] for s in budget_status(now)}
    assert status[other_unit.pk].month_to_date == Decimal("144.00")
    assert status[None].month_to_date == Decimal("12.00")
