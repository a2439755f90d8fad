"""The demo's drift and budgets: agents drifting in different ways, a unit over budget, idempotent."""

import io
from datetime import timedelta
from decimal import Decimal

import time_machine
from django.utils import timezone

from governance import demo
from governance.models import Budget, Finding
from registry.models import AuditEvent
from telemetry.models import DailyUsage
from tests.factories import AgentFactory


@time_machine.travel("2026-03-18 10:00Z", tick=False)
def test_demo_drifts_three_agents_and_puts_a_unit_over_budget(admin, owner, unit):
    # given: eight production agents with steady usage
    today = timezone.now().date()
    agents = [
        AgentFactory(key=f"hr.demo-{i}", owner=owner, business_unit=unit, lifecycle="production") for i in range(8)
    ]
    DailyUsage.objects.bulk_create(
        DailyUsage(agent=a, day=today - timedelta(days=n), environment="production", invocations=100, cost=Decimal("2"))
        for a in agents
        for n in range(60)
    )

    # when
    demo.drift_and_budgets(io.StringIO())
    entries = AuditEvent.objects.count()
    demo.drift_and_budgets(io.StringIO())

    # then: three agents drift, each in its own way
    findings = Finding.objects.open().filter(kind="drift")
    kinds = {f.agent.key: {m["metric"] for m in f.details["metrics"]} for f in findings}
    assert len(kinds) == 3
    assert any("error_rate" in metrics for metrics in kinds.values())
    assert any("latency_p95" in metrics for metrics in kinds.values())
    assert any(
        m["metric"] == "cost_per_invocation" and m["test"] == "slide" for f in findings for m in f.details["metrics"]
    )
    # and a unit is over budget
    assert Finding.objects.open().filter(kind="budget_overrun", identity__startswith="business-unit:").exists()
    assert Budget.objects.filter(business_unit__isnull=False).count() == 1
    assert AuditEvent.objects.count() == entries  # the second run wrote nothing
