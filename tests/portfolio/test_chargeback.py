"""The chargeback report: cost, tokens and invocations per agent and per unit for a month, equal to the rollups."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.db.models import Sum
from django.urls import reverse

from portfolio.chargeback import chargeback
from registry.models import Agent
from telemetry.models import DailyUsage
from tests.factories import BusinessUnitFactory

MARCH = date(2026, 3, 1)


@pytest.fixture
def usage(make_agent, unit, other_unit):
    team = BusinessUnitFactory(name="Recruiting", slug="recruiting", parent=unit)
    agents = [make_agent("hr.a", name="Alpha"), make_agent("hr.b", name="Beta", business_unit=team)]
    agents.append(make_agent("fin.c", name="Gamma", business_unit=other_unit))
    rows = []
    for i, agent in enumerate(agents):
        for n in range(-3, 35):  # the end of February to early April
            for env in ("production", "staging"):
                rows.append(
                    DailyUsage(
                        agent=agent,
                        day=MARCH + timedelta(days=n),
                        environment=env,
                        invocations=10 + i + n % 3,
                        input_tokens=100 * (i + 1),
                        output_tokens=7,
                        cost=Decimal("1.25") * (i + 1) + Decimal(n % 5) / 100,
                    )
                )
    DailyUsage.objects.bulk_create(rows)
    return {"agents": agents, "team": team}


def test_chargeback_totals_equal_the_rollups(usage, unit, django_assert_num_queries):
    # when
    with django_assert_num_queries(2):
        report = chargeback(Agent.objects.all(), MARCH)

    # then: every agent's month equals its March rollups, and the total equals all of March
    march = DailyUsage.objects.filter(day__gte=MARCH, day__lt=date(2026, 4, 1))
    for row in report.agents:
        expected = march.filter(agent__name=row.label).aggregate(
            cost=Sum("cost"), i=Sum("input_tokens"), o=Sum("output_tokens"), n=Sum("invocations")
        )
        assert (row.cost, row.tokens, row.invocations) == (
            expected["cost"],
            expected["i"] + expected["o"],
            expected["n"],
        )
    assert report.total.cost == march.aggregate(c=Sum("cost"))["c"]
    # a unit covers its sub-units: HR = Alpha + Beta (Recruiting), not Gamma (Finance)
    units = {row.label: row for row in report.units}
    by_agent = {row.label: row for row in report.agents}
    assert units["Human Resources"].cost == by_agent["Alpha"].cost + by_agent["Beta"].cost
    assert units["Recruiting"].cost == by_agent["Beta"].cost
    assert units["Group"].cost == report.total.cost
    assert units["Human Resources"].url == reverse("portfolio:agents") + "?business_unit=hr"


def test_dashboard_csv_and_workbook_show_the_chargeback(usage, client_for, board):
    client = client_for(board)

    page = client.get(reverse("portfolio:dashboard"), {"month": "2026-03"})
    assert page.status_code == 200
    assert "Chargeback: March 2026" in page.text
    assert reverse("registry:agent-detail", args=["hr.b"]) in page.text
    assert page.context["chargeback"].total.cost > 0

    response = client.get(reverse("portfolio:export-chargeback"), {"month": "2026-03", "business_unit": "hr"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["month", "level", "business_unit", "agent", "cost", "tokens", "invocations"]
    agents = {r[3] for r in rows[1:] if r[1] == "agent"}
    assert agents == {"Alpha", "Beta"}  # the filter holds: Finance's Gamma is not charged to HR

    response = client.get(reverse("portfolio:export-workbook"), {"month": "2026-03"})
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book["Chargeback"]
    rows = list(sheet.iter_rows(min_row=4, values_only=True))  # title, summary, blank line, then the header
    header, rows = rows[0], rows[1:]
    cost = next(i for i, name in enumerate(header) if name.startswith("Cost"))
    charged = sum(r[cost] for r in rows if r[0] == "Agent")
    assert charged == pytest.approx(float(DailyUsage.objects.filter(day__month=3).aggregate(c=Sum("cost"))["c"]))


def test_owner_sees_only_their_agents_charged(usage, client_for, owner, outsider):
    page = client_for(outsider).get(reverse("portfolio:dashboard"), {"month": "2026-03"})
    assert page.context["chargeback"].agents == []
    page = client_for(owner).get(reverse("portfolio:dashboard"), {"month": "2026-03"})
    assert {r.label for r in page.context["chargeback"].agents} == {"Alpha", "Beta", "Gamma"}


def test_a_month_past_the_calendar_reads_as_this_month_not_a_500(usage, client_for, board):
    client = client_for(board)
    assert client.get(reverse("portfolio:dashboard"), {"month": "9999-12"}).status_code == 200
    assert client.get(reverse("portfolio:export-chargeback"), {"month": "9999-12"}).status_code == 200
