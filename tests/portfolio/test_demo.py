import io
from datetime import date

import time_machine

from portfolio import demo, reports
from portfolio.models import MaturityAssessment, PortfolioSnapshot
from registry.models import Agent


@time_machine.travel("2026-03-02 10:00Z")
def test_the_demo_assesses_every_unit_and_back_fills_twelve_weeks_idempotently(world):
    # when
    demo.build(io.StringIO())
    demo.build(io.StringIO())
    # then
    assert MaturityAssessment.objects.filter(business_unit=world.finance).count() == 2
    assert PortfolioSnapshot.objects.count() == 84
    points = reports.trend(reports.Scope(Agent.objects.all(), True), reports.PortfolioFilter(), date(2026, 3, 2))
    assert len(reports.weekly(points)) == 12
    assert points[0].agents <= points[-1].agents
