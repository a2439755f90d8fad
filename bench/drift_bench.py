# ruff: noqa: E501, S608  (SQL statements read better unwrapped; the SQL is built from constants)
"""Drift check benchmark on PostgreSQL (figures, not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agentreg_bench_drift BENCH_AGENTS=5000 .venv/bin/python bench/drift_bench.py

Builds (once per size, again with BENCH_REBUILD=1; the data stays for re-runs) BENCH_AGENTS registered agents (default 50,000) with
90 days of daily usage in production, noisy (every day's figures move by a roughly normal factor, sd about
10%), and plants drifts: every 50th agent's error rate triples in the last 3 days (a step), every 50th
(offset 25) has a cost per invocation sliding up 1% a day for 60 days (a slow slide), every 50th
(offset 10) has 25 invocations a day (low volume: must not be judged, even with a step). Then measures:

1. ``governance.drift.drift_findings`` (what the check runs) — time and number of queries;
2. the same detection hand-written in one SQL statement (percentile_cont medians and MADs, both tests), on
   the same data in the same run; the SQL covers the six usage metrics but not the p95 or evaluation
   scores, so it does less work than the check;
3. planted drifts found, and clean agents flagged (false positives).
"""

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("EMAIL_BACKEND", "locmem")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("LOG_LEVEL", "ERROR")
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("Set DATABASE_URL to a PostgreSQL database the benchmark may fill (e.g. agentreg_bench_drift).")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

AGENTS = int(os.environ.get("BENCH_AGENTS", "50000"))
DAYS = 90
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else None


def populate():
    from registry.models import Agent, BusinessUnit, User
    from telemetry.models import DailyUsage

    have = Agent.objects.filter(key__startswith="bench.agent-").count()
    if not os.environ.get("BENCH_REBUILD") and have == AGENTS and DailyUsage.objects.count() == AGENTS * DAYS:
        latest = DailyUsage.objects.order_by("-day").values_list("day", flat=True).first()
        if latest == NOW.date():
            print(f"data present: {AGENTS} agents x {DAYS} days, reusing it")
            return
    sql(
        "TRUNCATE telemetry_dailyusage, telemetry_dailyevaluation, governance_findingevent, governance_webhookdelivery, governance_finding"
    )
    sql("DELETE FROM registry_agent WHERE key LIKE %s", ["bench.agent-%"])
    started = time.monotonic()
    unit, _ = BusinessUnit.objects.get_or_create(slug="bench", defaults={"name": "Bench", "path": "/bench/"})
    owner, _ = User.objects.get_or_create(username="bench-owner", defaults={"email": "owner@bench.example"})
    sql(
        """
        INSERT INTO registry_agent (key, name, description, escalation_contact, escalation_procedure, objective,
          allowed_actions, forbidden_actions, inputs, actions, pattern, autonomy_level, mode, topology,
          runs_in_development, runs_in_staging, runs_in_production, external_facing, data_classification,
          handles_personal_data, handles_regulated_data, lifecycle, lifecycle_changed_at, production_since,
          risk_tier, business_outcome, metric_name, metric_unit, metric_target, eligible_users, active_users,
          created_at, updated_at, row_version, owner_id, business_unit_id, capabilities, endpoint_url)
        SELECT 'bench.agent-' || g, 'Bench agent ' || g, '', '', '', '', '', '', '', '', 'employee_enablement',
          2, 'assist', 'service', false, false, true, false, 'internal', false, false,
          'production', now() - interval '100 days', now() - interval '100 days',
          (ARRAY['low','medium','high','critical'])[1 + g %% 4], 'Outcome', 'Metric', '', 100, 1000, 500,
          now(), now(), 1, %s, %s, '[]', ''
        FROM generate_series(1, %s) g
        """,
        [owner.pk, unit.pk, AGENTS],
    )
    # One row per agent and day. f(): a roughly normal factor around 1 (sd about 0.1), fresh per column.
    sql(
        f"""
        INSERT INTO telemetry_dailyusage (agent_id, day, environment, invocations, errors, tool_calls, escalations,
          heartbeats, input_tokens, output_tokens, cost, latency_ms_total, latency_samples, latency_ms_max,
          latency_le_100ms, latency_le_250ms, latency_le_500ms, latency_le_1s, latency_le_2500ms, latency_le_5s,
          latency_le_10s, latency_over_10s)
        SELECT a.id, %s::date - d, 'production', inv,
          round(inv * 0.04 * f1 * CASE WHEN step AND d < 3 THEN 3 ELSE 1 END),
          round(inv * 2.0 * f2), round(inv * 0.05 * f3), 24,
          round(inv * 600 * f4), round(inv * 200 * f4),
          round((inv * 0.004 * f5 * CASE WHEN slide THEN 1 + 0.01 * greatest(0, 60 - d) ELSE 1 END)::numeric, 6),
          inv * 800 * f6, inv, 4000,
          0, 0, round(inv * 0.3), inv - round(inv * 0.3) - round(inv * 0.06 * f6), round(inv * 0.06 * f6), 0, 0, 0
        FROM (SELECT id, (substring(key from 13))::int AS g FROM registry_agent WHERE key LIKE 'bench.agent-%%') a
        CROSS JOIN generate_series(0, {DAYS - 1}) d
        CROSS JOIN LATERAL (SELECT
          CASE WHEN a.g %% 50 = 10 THEN 25 ELSE 300 + (a.g %% 7) * 40 END AS inv,
          a.g %% 50 IN (0, 10) AS step, a.g %% 50 = 25 AS slide,
          1 + (random() + random() + random() - 1.5) * 0.2 AS f1,
          1 + (random() + random() + random() - 1.5) * 0.2 AS f2,
          1 + (random() + random() + random() - 1.5) * 0.2 AS f3,
          1 + (random() + random() + random() - 1.5) * 0.2 AS f4,
          1 + (random() + random() + random() - 1.5) * 0.2 AS f5,
          1 + (random() + random() + random() - 1.5) * 0.2 AS f6) n
        """,
        [NOW.date()],
    )
    sql("ANALYZE telemetry_dailyusage")
    print(f"populated {AGENTS} agents x {DAYS} days in {time.monotonic() - started:.0f} s")


# The same detection by hand: both tests, medians and MADs per agent, environment and metric.
METRICS_SQL = """(VALUES ('error_rate', e::float8 / n, true), ('cost_per_invocation', c::float8 / n, false),
  ('tokens_per_invocation', tk::float8 / n, false), ('tool_calls_per_invocation', tc::float8 / n, false),
  ('escalation_rate', es::float8 / n, true), ('latency_mean', CASE WHEN ls > 0 THEN lt / ls END, false)) v(metric, value, is_rate)"""
HAND_SQL = f"""
WITH tests(test, r_len, b_from, b_to) AS (VALUES ('jump', 3, 3, 31), ('slide', 7, 28, 56)),
d AS (
  SELECT agent_id, environment, %(today)s::date - day AS age, invocations AS n, errors AS e, tool_calls AS tc,
         escalations AS es, input_tokens + output_tokens AS tk, cost AS c, latency_ms_total AS lt, latency_samples AS ls
  FROM telemetry_dailyusage WHERE day > %(today)s::date - 56 AND day <= %(today)s::date AND invocations > 0
),
recent AS (
  SELECT t.test, agent_id, environment, sum(n) AS n, sum(e) AS e, sum(tc) AS tc, sum(es) AS es, sum(tk) AS tk,
         sum(c) AS c, sum(lt) AS lt, sum(ls) AS ls
  FROM d JOIN tests t ON d.age < t.r_len GROUP BY 1, 2, 3 HAVING sum(n) >= %(min_inv)s
),
recent_m AS (SELECT r.test, r.agent_id, r.environment, v.metric, v.value, v.is_rate FROM recent r CROSS JOIN LATERAL {METRICS_SQL} WHERE v.value IS NOT NULL),
base AS (
  SELECT t.test, d.agent_id, d.environment, v.metric, v.value
  FROM d JOIN tests t ON d.age >= t.b_from AND d.age < t.b_to
  JOIN (SELECT test, agent_id, environment FROM recent) r ON r.test = t.test AND r.agent_id = d.agent_id AND r.environment = d.environment
  CROSS JOIN LATERAL {METRICS_SQL} WHERE v.value IS NOT NULL
),
med AS (
  SELECT test, agent_id, environment, metric, percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS med
  FROM base GROUP BY 1, 2, 3, 4 HAVING count(*) >= 5
),
spread AS (
  SELECT b.test, b.agent_id, b.environment, b.metric, m.med,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(b.value - m.med)) AS mad
  FROM base b JOIN med m USING (test, agent_id, environment, metric) GROUP BY 1, 2, 3, 4, 5
)
SELECT DISTINCT r.agent_id
FROM recent_m r JOIN spread s USING (test, agent_id, environment, metric)
WHERE abs(r.value - s.med) > %(mads)s * greatest(s.mad, abs(s.med) * 0.01,
        CASE WHEN r.is_rate AND s.med = 0 THEN 0.01 / %(mads)s ELSE 1e-9 END)
  AND CASE WHEN s.med <> 0 THEN abs(r.value - s.med) / abs(s.med) >= %(rel)s
           ELSE abs(r.value) >= CASE WHEN r.is_rate THEN 0.01 ELSE 1e-9 END END
"""


def main():
    call_command("migrate", verbosity=0)
    populate()
    from governance.drift import DriftParameters, drift_findings

    params = DriftParameters()
    ids = dict(sql("SELECT id, (substring(key from 13))::int FROM registry_agent WHERE key LIKE 'bench.agent-%%'"))
    runs = int(os.environ.get("BENCH_RUNS", "2"))

    def best(fn):
        times = []
        for _ in range(runs):
            started = time.monotonic()
            result = fn()
            times.append(time.monotonic() - started)
        return min(times), result

    with CaptureQueriesContext(connection) as queries:
        check_time, found = best(lambda: drift_findings(NOW, params))
    check_queries = len(queries) // runs
    hand_params = {
        "today": NOW.date(),
        "min_inv": params.min_invocations,
        "mads": params.mads,
        "rel": params.min_relative_move,
    }
    hand_time, hand = best(lambda: {r[0] for r in sql(HAND_SQL, hand_params)})

    planted_step = {pk for pk, g in ids.items() if g % 50 == 0}
    planted_slide = {pk for pk, g in ids.items() if g % 50 == 25}
    low_volume = {pk for pk, g in ids.items() if g % 50 == 10}
    clean = set(ids) - planted_step - planted_slide - low_volume
    flagged = set(found)
    slide_tests = {
        e["test"]
        for pk in planted_slide & flagged
        for e in found[pk]["details"]["metrics"]
        if e["metric"] == "cost_per_invocation"
    }
    print(f"agents: {AGENTS}, days of rollups: {DAYS} ({AGENTS * DAYS:,} DailyUsage rows)")
    print(f"drift check (drift_findings): {check_time:.2f} s, {check_queries} queries")
    print(f"hand-written SQL (6 usage metrics, one statement): {hand_time:.2f} s")
    print(f"ratio check / hand-written: {check_time / hand_time:.2f}x")
    print(f"planted steps found: {len(planted_step & flagged)}/{len(planted_step)}")
    print(
        f"planted slides found: {len(planted_slide & flagged)}/{len(planted_slide)} (cost per invocation caught by: {sorted(slide_tests)})"
    )
    print(f"low-volume agents judged (must be 0): {len(low_volume & flagged)}/{len(low_volume)}")
    fp = len(clean & flagged)
    print(f"clean agents flagged: {fp}/{len(clean)} ({100 * fp / max(1, len(clean)):.2f}%)")
    print(f"hand-written SQL agrees on: {len(hand & flagged)} of {len(flagged)} (check) / {len(hand)} (SQL)")


if __name__ == "__main__":
    main()
