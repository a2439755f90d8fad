"""The drift check: daily rollups read for change, one finding per agent naming each drifting metric."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from governance import checks, services
from governance.drift import METRICS, DriftParameters, band, drift_findings, judge, latency_percentile
from governance.models import DriftPolicy, Finding
from registry.models import AuditEvent
from telemetry.models import LATENCY_BUCKET_FIELDS, DailyEvaluation, DailyUsage

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
TODAY = NOW.date()


def usage(
    agent,
    days_ago,
    *,
    invocations=100,
    error_rate=0.02,
    cost=0.01,
    tokens=1000,
    latency=800.0,
    tool_calls=2.0,
    escalation_rate=0.05,
    environment="production",
):
    """One day's rollup with the given per-invocation figures (what ingest would have summed)."""
    buckets = dict.fromkeys(LATENCY_BUCKET_FIELDS, 0)
    buckets["latency_le_1s" if latency <= 1000 else "latency_le_2500ms" if latency <= 2500 else "latency_le_5s"] = (
        invocations
    )
    return DailyUsage(
        agent=agent,
        day=TODAY - timedelta(days=days_ago),
        environment=environment,
        invocations=invocations,
        errors=round(invocations * error_rate),
        tool_calls=round(invocations * tool_calls),
        escalations=round(invocations * escalation_rate),
        input_tokens=round(invocations * tokens / 2),
        output_tokens=round(invocations * tokens / 2),
        cost=Decimal(str(round(invocations * cost, 6))),
        latency_ms_total=invocations * latency,
        latency_samples=invocations,
        **buckets,
    )


def history(agent, figure=lambda days_ago: {}, *, days=70, **base):
    DailyUsage.objects.bulk_create([usage(agent, n, **{**base, **figure(n)}) for n in range(days)])


def drifting_metrics(agent):
    finding = Finding.objects.open().filter(kind="drift", agent=agent).first()
    return finding, {m["metric"]: m for m in finding.details["metrics"]} if finding else {}


@pytest.fixture
def agents(make_agent):
    return {
        name: make_agent(f"ops.{name}", name=name.replace("-", " ").title())
        for name in ("step", "slide", "noisy", "quiet", "steady")
    }


def test_step_slide_noisy_and_low_volume_agents(agents, django_assert_num_queries):
    # given: a step change in errors, a slow slide in cost, a noisy but stable agent, a low-volume agent
    history(agents["step"], lambda n: {"error_rate": 0.10} if n < 3 else {})
    history(agents["slide"], lambda n: {"cost": 0.01 * (1 + 0.5 * (60 - n) / 60)}, days=63)
    rng = random.Random(7)
    history(agents["noisy"], lambda n: {"error_rate": rng.uniform(0.01, 0.03), "latency": rng.uniform(600, 1000)})
    history(agents["quiet"], lambda n: {"invocations": 25, "error_rate": 0.5 if n < 3 else 0.02})
    history(agents["steady"])

    # when
    with django_assert_num_queries(3):
        found = drift_findings(NOW, DriftParameters())

    # then: the step and the slide are caught, the noisy and the low-volume agents are not
    assert set(found) == {agents["step"].pk, agents["slide"].pk}
    step = {m["metric"]: m for m in found[agents["step"].pk]["details"]["metrics"]}
    assert step["error_rate"]["direction"] == "up"
    assert step["error_rate"]["baseline"] == pytest.approx(0.02)
    assert step["error_rate"]["current"] == pytest.approx(0.10)
    assert step["error_rate"]["test"] == "jump"
    assert "error rate in production up from 2.0% to 10.0%" in found[agents["step"].pk]["summary"]
    slide = {m["metric"]: m for m in found[agents["slide"].pk]["details"]["metrics"]}
    assert slide["cost_per_invocation"]["test"] == "slide"
    assert slide["cost_per_invocation"]["direction"] == "up"


def test_check_opens_one_finding_per_agent_and_resolves_when_back_in_band(agents):
    # given: errors and latency jumped for three days
    history(agents["step"], lambda n: {"error_rate": 0.10, "latency": 3000.0} if n < 3 else {})

    # when
    checks.run_check("drift", now=NOW)

    # then: one finding names both metrics, with the band and how far outside
    finding, metrics = drifting_metrics(agents["step"])
    assert Finding.objects.filter(kind="drift").count() == 1
    assert {"error_rate", "latency_mean", "latency_p95"} <= set(metrics)
    assert metrics["latency_mean"]["band"][1] < 3000
    assert metrics["latency_mean"]["mads_outside"] > 0
    assert finding.severity in ("high", "critical")

    # when: the recent window is back inside the band
    DailyUsage.objects.filter(agent=agents["step"], day__gt=TODAY - timedelta(days=3)).delete()
    DailyUsage.objects.bulk_create([usage(agents["step"], n) for n in range(3)])
    checks.run_check("drift", now=NOW)

    # then: the finding resolved itself
    finding.refresh_from_db()
    assert finding.resolved_at is not None


def test_evaluation_score_drift_is_judged_on_all_traffic(agents):
    history(agents["steady"])
    DailyEvaluation.objects.bulk_create(
        DailyEvaluation(
            agent=agents["steady"],
            day=TODAY - timedelta(days=n),
            name="relevance",
            results=50,
            scored=50,
            score_sum=50 * (0.5 if n < 3 else 0.9),
            score_min=0.1,
            score_max=1.0,
            last_at=NOW,
        )
        for n in range(40)
    )
    found = drift_findings(NOW, DriftParameters())
    metric = found[agents["steady"].pk]["details"]["metrics"][0]
    assert metric["metric"] == "evaluation:relevance"
    assert metric["environment"] == "all"
    assert metric["direction"] == "down"


def test_low_volume_recent_window_is_not_judged():
    # 199 invocations in the window: nothing judged whatever the move
    params = DriftParameters()
    assert judge("error_rate", [0.02] * 28, 0.5, params) is not None
    assert judge("error_rate", [0.02] * 3, 0.5, params) is None  # too few baseline days


def test_small_relative_move_inside_mads_is_not_drift():
    params = DriftParameters()
    baseline = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 100.2]
    # far outside 3 MADs but only a 10% move
    assert judge("latency_mean", baseline, 110.0, params) is None
    assert judge("latency_mean", baseline, 130.0, params).direction == "up"


def test_p95_from_the_histogram():
    counts = [0, 0, 0, 90, 10, 0, 0, 0]  # 90 under 1 s, 10 between 1 s and 2.5 s
    assert latency_percentile(counts) == pytest.approx(1000 + 1500 * 0.5)
    assert latency_percentile([0] * 8) is None


@pytest.mark.usefixtures("agent")
def test_ingest_fills_the_latency_histogram(ingest):
    # given: four invocations of 80 ms, 800 ms, 800 ms and 12 s, sent in two batches
    def invocation(ms, minute):
        return {
            "agent": "hr.leave-assistant",
            "environment": "production",
            "timestamp": f"2026-03-02T11:{minute:02d}:00Z",
            "kind": "invocation",
            "latency_ms": ms,
        }

    with time_machine.travel("2026-03-02T12:00:00Z", tick=False):
        ingest([invocation(80, 1), invocation(800, 2)])
        ingest([invocation(800, 3), invocation(12_000, 4)])

    # then: the day's row counts them per bucket, and the p95 falls in the open last bucket
    row = DailyUsage.objects.get()
    counts = [getattr(row, f) for f in LATENCY_BUCKET_FIELDS]
    assert counts == [1, 0, 0, 2, 0, 0, 0, 1]
    assert latency_percentile(counts) == 10_000
    assert latency_percentile(counts, 0.5) == pytest.approx(750)


def test_parameters_are_policy_data_changed_by_administrators_and_audited(admin, owner, agents):
    history(agents["step"], lambda n: {"error_rate": 0.10} if n < 3 else {})
    with pytest.raises(PermissionDenied):
        services.update_drift_policy({"min_invocations": 1000}, actor=owner)
    with pytest.raises(ValidationError) as refused:
        services.update_drift_policy({"mads": 0.5}, actor=admin)
    assert "mads" in refused.value.message_dict

    policy = services.update_drift_policy({"min_invocations": 1000}, actor=admin, notes="Quieter")

    assert (policy.version, policy.min_invocations, policy.mads) == (1, 1000, 3.0)
    event = AuditEvent.objects.filter(event_type="drift_policy.updated").get()
    assert (event.before["min_invocations"], event.after["min_invocations"]) == (200, 1000)
    # 300 invocations in the recent window no longer reach the minimum
    assert drift_findings(NOW) == {}
    assert DriftPolicy.objects.current() == policy


def test_agent_page_charts_each_metric_with_its_band_and_the_days_outside(agents, client_for, employee):
    # given: errors jumped for three days, and the check raised its finding
    history(agents["step"], lambda n: {"error_rate": 0.10} if n < 3 else {}, days=90)
    checks.run_check("drift", now=NOW)

    # when: anyone who reads the catalog opens the agent page
    with time_machine.travel(NOW, tick=False):
        page = client_for(employee).get(reverse("registry:agent-detail", args=[agents["step"].key]))

    # then: a chart per watched metric, each titled and described, the error rate's three days in red
    assert page.status_code == 200
    panel = next(p for p in page.context["panels"] if p["title"] == "Drift and cost")
    charts = {c.metric: c for c in panel["context"]["charts"]}
    assert set(METRICS) <= set(charts)
    assert charts["error_rate"].outside == 3
    assert charts["cost_per_invocation"].outside == 0
    assert len(charts["error_rate"].points) == 90
    body = page.text
    assert "Error rate (production), last 90 days" in body
    assert body.count("outside the band</title></circle>") >= 3
    assert "<desc id=" in body
    assert "Table view" in body
    assert panel["context"]["finding"].summary in body


def test_the_chart_draws_the_band_the_test_judges_by_even_for_a_rate_that_was_zero():
    params = DriftParameters()
    steady_zero = [0.0] * 28
    # half a percent of errors after none: under the rate floor, so not drift
    assert judge("error_rate", steady_zero, 0.005, params) is None
    low, centre, high = band("error_rate", steady_zero, params)
    # and the chart does not draw that day outside the band
    assert low <= 0.005 <= high
    assert centre == 0.0
