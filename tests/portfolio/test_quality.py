"""The quality panel: evaluation scores and escalation rates per pattern and unit, the agents drifting now."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from governance import checks
from portfolio.quality import quality
from registry.models import Agent
from telemetry.models import DailyEvaluation, DailyUsage

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)


@pytest.fixture
def rollups(make_agent, other_unit):
    today = NOW.date()
    a = make_agent("hr.a", name="Alpha", pattern="employee_enablement")
    b = make_agent("fin.b", name="Beta", business_unit=other_unit, pattern="core_process")
    rows, evals = [], []
    for n in range(40):
        day = today - timedelta(days=n)
        # Alpha: 5% escalations, relevance 0.9; its relevance drops to 0.4 in the last three days
        rows.append(DailyUsage(agent=a, day=day, environment="production", invocations=200, escalations=10))
        rows.append(DailyUsage(agent=b, day=day, environment="production", invocations=100, escalations=20))
        evals.append(
            DailyEvaluation(
                agent=a,
                day=day,
                name="relevance",
                results=20,
                scored=20,
                score_sum=20 * (0.4 if n < 3 else 0.9),
                score_min=0,
                score_max=1,
                last_at=NOW,
            )
        )
    DailyUsage.objects.bulk_create(rows)
    DailyEvaluation.objects.bulk_create(evals)
    return a, b


def test_quality_per_pattern_and_unit_with_drifting_agents(rollups, django_assert_num_queries):
    a, _ = rollups
    checks.run_check("drift", now=NOW)

    with django_assert_num_queries(3):
        q = quality(Agent.objects.all(), NOW.date())

    patterns = {r.label: r for r in q.by_pattern}
    assert patterns["Employee AI enablement"].escalation_rate == pytest.approx(0.05)
    assert patterns["Core business process transformation"].escalation_rate == pytest.approx(0.20)
    # 28 days: 25 at 0.9, 3 at 0.4
    assert patterns["Employee AI enablement"].score("relevance") == pytest.approx((25 * 0.9 + 3 * 0.4) / 28)
    assert patterns["Core business process transformation"].score("relevance") is None
    units = {r.label: r for r in q.by_unit}
    assert units["Finance"].url == reverse("portfolio:agents") + "?business_unit=finance"
    assert q.evaluations == ["relevance"]
    assert [d["agent"] for d in q.drifting] == ["Alpha"]
    assert "evaluation score" in q.drifting[0]["summary"]


def test_dashboard_shows_the_quality_panel_with_drill_downs(rollups, client_for, board):
    with time_machine.travel(NOW, tick=False):
        checks.run_check("drift", now=NOW)
        page = client_for(board).get(reverse("portfolio:dashboard"))
    assert page.status_code == 200
    assert "Quality: evaluation scores and escalations" in page.text
    assert 'href="/portfolio/agents/?pattern=core_process"' in page.text
    assert "20.0%" in page.text
    assert reverse("registry:agent-detail", args=["hr.a"]) in page.text
