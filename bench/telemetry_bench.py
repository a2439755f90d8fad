# ruff: noqa: E501  (SQL statements read better unwrapped)
"""Telemetry and checks benchmark on PostgreSQL (figures, not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agentreg_bench .venv/bin/python bench/telemetry_bench.py

Builds (once; the data stays for re-runs) 50,000 registered agents, 1,000,000
raw events and 500 unregistered identities with set-based SQL, then measures:

1. the full sweep of all checks against the same detections written by hand
   in SQL, on the same database in the same run (time ratio, query count);
2. batch ingest through the HTTP endpoint (gunicorn, 2 gthread workers with
   BENCH_THREADS=4 threads each, batches of 1,000) against a raw COPY of the same events plus the same rollups in SQL;
3. single-event ingest latency (p50/p95) at 200 requests per second.

4. store_events with tool names and evaluation results against the same batches without them
   (in-process; BENCH_PARTS=rollups, not in the default parts).
5. retention on the day-partitioned raw events table: BENCH_PARTITION_EVENTS (10,000,000) events
   over BENCH_PARTITION_DAYS (30) days, then dropping the oldest day's partition (the purge's own code) against deleting
   the same rows, from an identical plain copy of the table, in batches of 10,000 the way the purge
   did before partitioning (BENCH_PARTS=partitions; the days are far in the past, so nothing else
   touches them, and everything the part built is dropped at its end).

BENCH_PARTS=sweep (or ingest, or sweep,ingest; default sweep,ingest,partitions) runs only those parts; add otlp
(ingest,otlp) to also post OTLP exports of whole agent runs and of runs split across two exports.
The sweep includes ungranted_tool_use, with its own line: its share of the sweep, the sweep without
it, and against its detection written by hand (tools called in 7 days that the running version grants
under no spelling).
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("EMAIL_BACKEND", "locmem")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# The per-source ingest throttle protects production; the benchmark measures the ingest path itself.
os.environ.setdefault("TELEMETRY_INGEST_RATE_PER_MINUTE", "0")
os.environ.setdefault("LOG_LEVEL", "ERROR")
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("Set DATABASE_URL to a PostgreSQL database the benchmark may fill (e.g. agentreg_bench).")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

AGENTS = int(os.environ.get("BENCH_AGENTS", 50_000))
EVENTS = int(os.environ.get("BENCH_EVENTS", 1_000_000))
SHADOWS = int(os.environ.get("BENCH_SHADOWS", 500))

# The daily rollup's latency histogram (telemetry.models.LATENCY_BUCKETS), as ingest counts it: one
# sample per event with a latency, in the first bucket whose bound it does not exceed.
_BOUNDS = [(None, 100), (100, 250), (250, 500), (500, 1000), (1000, 2500), (2500, 5000), (5000, 10000), (10000, None)]
HIST_COLUMNS = (
    "latency_le_100ms, latency_le_250ms, latency_le_500ms, latency_le_1s, latency_le_2500ms, latency_le_5s, "
    "latency_le_10s, latency_over_10s"
)
HIST_SELECT = ", ".join(
    "count(*) FILTER (WHERE "
    + " AND ".join(
        ([f"latency_ms > {low}"] if low is not None else ["latency_ms IS NOT NULL"])
        + ([f"latency_ms <= {high}"] if high is not None else [])
    )
    + ")"
    for low, high in _BOUNDS
)
HIST_ADD = ", ".join(f"{c} = d.{c} + excluded.{c}" for c in HIST_COLUMNS.split(", "))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PORT = int(os.environ.get("BENCH_PORT", 0)) or _free_port()
THREADS = int(os.environ.get("BENCH_THREADS", 4))
PARTS = set(os.environ.get("BENCH_PARTS", "sweep,ingest,partitions").split(","))
PARTITION_EVENTS = int(os.environ.get("BENCH_PARTITION_EVENTS", 10_000_000))
PARTITION_DAYS = int(os.environ.get("BENCH_PARTITION_DAYS", 30))
# Days far from today: no ingest, beat task or other part of the benchmark touches them.
PARTITION_FIRST_DAY = date(2020, 1, 1)
PURGE_BATCH = 10_000
SWEEP_RUNS = int(os.environ.get("BENCH_SWEEP_RUNS", 7))


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else None


def populate():
    from registry.models import Agent, BusinessUnit, User
    from telemetry import services as telemetry_services
    from telemetry.models import TelemetryEvent, TelemetrySource

    baseline = sql("SELECT to_regclass('bench_monitoring_baseline') IS NOT NULL")[0][0]
    if baseline and Agent.objects.count() >= AGENTS and TelemetryEvent.objects.count() >= EVENTS:
        print(f"data present: {Agent.objects.count()} agents, reusing it")
        return
    # A half-built database (an interrupted run) starts again from empty.
    sql(
        "TRUNCATE telemetry_telemetryevent, telemetry_sighting, telemetry_monitoringstate, telemetry_dailyusage, "
        "telemetry_dailytoolusage, telemetry_tooluse, telemetry_dailyevaluation, telemetry_ingestday, telemetry_rejectioncount, "
        "telemetry_rejecteditem, telemetry_spanowner, telemetry_pendingspan, "
        "governance_findingevent, governance_webhookdelivery, governance_finding, governance_checkrun"
    )
    bench_versions = (
        "SELECT v.id FROM registry_agentversion v JOIN registry_agent a ON a.id = v.agent_id WHERE a.key LIKE %s"
    )
    sql(f"DELETE FROM registry_agentversiontool WHERE version_id IN ({bench_versions})", ["bench.agent-%"])  # noqa: S608
    sql(f"DELETE FROM registry_agentversion WHERE id IN ({bench_versions})", ["bench.agent-%"])  # noqa: S608
    sql("DELETE FROM registry_agent WHERE key LIKE %s", ["bench.agent-%"])
    started = time.monotonic()
    unit, _ = BusinessUnit.objects.get_or_create(slug="bench", defaults={"name": "Bench", "path": "/bench/"})
    owner, _ = User.objects.get_or_create(username="bench-owner", defaults={"email": "owner@bench.example"})
    inactive, _ = User.objects.get_or_create(username="bench-gone", defaults={"is_active": False})
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True, "is_staff": True})
    source = TelemetrySource.objects.filter(name="Bench gateway").first()
    if source is None:
        source, _ = telemetry_services.create_source(actor=admin, name="Bench gateway", kind="gateway")
    # Agents: 40% production, 20% pilot, the rest earlier states; tiers spread; 1% orphaned.
    sql(
        """
        INSERT INTO registry_agent (key, name, description, escalation_contact, escalation_procedure, objective,
          allowed_actions, forbidden_actions, inputs, actions, pattern, autonomy_level, mode, topology,
          runs_in_development, runs_in_staging, runs_in_production, external_facing, data_classification,
          handles_personal_data, handles_regulated_data, lifecycle, lifecycle_changed_at, production_since,
          risk_tier, business_outcome, metric_name, metric_unit, metric_target, eligible_users, active_users,
          created_at, updated_at, row_version, owner_id, business_unit_id, capabilities, endpoint_url)
        SELECT 'bench.agent-' || g, 'Bench agent ' || g, '', '', '', '', '', '', '', '', 'employee_enablement',
          1 + g %% 5, CASE WHEN 1 + g %% 5 >= 3 THEN 'execute' ELSE 'assist' END, 'service', true, false,
          g %% 10 < 4, false, 'internal', false, false,
          CASE WHEN g %% 10 < 4 THEN 'production' WHEN g %% 10 < 6 THEN 'pilot' WHEN g %% 10 < 8 THEN 'approved'
               ELSE 'proposed' END,
          now() - interval '100 days',
          CASE WHEN g %% 10 < 4 THEN now() - interval '100 days' END,
          (ARRAY['low','medium','high','critical'])[1 + g %% 4],
          CASE WHEN g %% 7 = 0 THEN '' ELSE 'Outcome' END, 'Metric', '', 100, 1000, CASE WHEN g %% 9 = 0 THEN 50 ELSE 500 END,
          now(), now(), 1, CASE WHEN g %% 100 = 0 THEN %s ELSE %s END, %s, '[]'::jsonb, ''
        FROM generate_series(1, %s) g
        """,
        [inactive.pk, owner.pk, unit.pk, AGENTS],
    )
    # 1,000,000 raw events over the last 25 days, spread over the agents and the shadow identities.
    sql(
        """
        INSERT INTO telemetry_telemetryevent (source_id, event_id, identity, agent_id, environment, kind,
          occurred_at, received_at, count, is_error, latency_ms, input_tokens, output_tokens, cost)
        SELECT %s, NULL, CASE WHEN g %% 2000 = 0 THEN 'shadow.identity-' || (g / 2000) %% %s
                             ELSE 'bench.agent-' || (1 + g %% %s) END,
          NULL, 'production', 'invocation', now() - (g %% 36000) * interval '1 minute', now(), 1, false, 900, 800, 120, 0.002
        FROM generate_series(1, %s) g
        """,
        [source.pk, SHADOWS, AGENTS, EVENTS],
    )
    sql(
        """UPDATE telemetry_telemetryevent e SET agent_id = a.id FROM registry_agent a
           WHERE a.key = e.identity AND e.agent_id IS NULL"""
    )
    # The small tables ingest would have written for those events, built in bulk.
    sql(
        """
        INSERT INTO telemetry_sighting (identity, environment, source_id, agent_id, agent_name, service_name,
          first_seen_at, last_seen_at, event_count)
        SELECT identity, environment, source_id, max(agent_id), '', '', min(occurred_at), max(occurred_at), sum(count)
        FROM telemetry_telemetryevent GROUP BY identity, environment, source_id
        """
    )
    sql(
        """
        INSERT INTO telemetry_monitoringstate (agent_id, last_seen_at, last_environment, last_source_id, updated_at)
        SELECT agent_id, max(last_seen_at), 'production', max(source_id), now() FROM telemetry_sighting
        WHERE agent_id IS NOT NULL GROUP BY agent_id
        """
    )
    # The monitoring state as populated, restored before each sweep: the ingest part reports every
    # agent afresh, which would leave no agent silent for the next run's sweep.
    sql("DROP TABLE IF EXISTS bench_monitoring_baseline")
    sql("CREATE TABLE bench_monitoring_baseline AS SELECT agent_id, last_seen_at FROM telemetry_monitoringstate")
    sql(
        """
        INSERT INTO telemetry_dailyusage (agent_id, day, environment, invocations, errors, tool_calls, escalations,
          heartbeats, input_tokens, output_tokens, cost, latency_ms_total, latency_samples, latency_ms_max, """
        + HIST_COLUMNS
        + """)
        SELECT agent_id, (occurred_at AT TIME ZONE 'UTC')::date, environment, sum(count), 0, 0, 0, 0,
          sum(input_tokens), sum(output_tokens), sum(cost), sum(latency_ms), count(*), max(latency_ms), """
        + HIST_SELECT
        + """
        FROM telemetry_telemetryevent WHERE agent_id IS NOT NULL GROUP BY 1, 2, 3
        """
    )
    sql("ANALYZE")
    print(
        f"populated {AGENTS} agents, {EVENTS} events, {SHADOWS} shadow identities in {time.monotonic() - started:.0f}s"
    )
    assert TelemetrySource.objects.count() >= 1


TOOLS = 32
UNGRANTED_EVERY = 50


def populate_tools():
    """The tool side (once): 32 catalog tools, one version per running agent granting two of them, and
    seven days of daily tool usage: every running agent calls its two tools, every 50th also calls a
    tool nothing grants (an ungranted_tool_use finding)."""
    from registry.models import Tool

    if sql("SELECT count(*) FROM telemetry_tooluse")[0][0]:
        print("tool usage present, reusing it")
        return
    sql("TRUNCATE telemetry_dailytoolusage")  # a half-built run starts again
    started = time.monotonic()
    Tool.objects.bulk_create(
        [Tool(key=f"bench.tool-{n}", name=f"Bench tool {n}", supports_write=n % 3 == 0) for n in range(TOOLS)],
        ignore_conflicts=True,
    )
    sql(
        """
        INSERT INTO registry_agentversion (agent_id, label, model_provider, model_name, model_version,
          prompt_version, orchestration_version, change_summary, created_at)
        SELECT a.id, '1.0.0', 'bench', 'model', '', '', '', '', now() - interval '90 days'
        FROM registry_agent a WHERE a.key LIKE 'bench.agent-%%' AND a.lifecycle IN ('pilot', 'production')
        ON CONFLICT DO NOTHING
        """
    )
    sql(
        """
        INSERT INTO registry_agentversiontool (version_id, tool_id, access)
        SELECT v.id, t.id, 'read' FROM registry_agentversion v
        JOIN registry_tool t ON t.key IN ('bench.tool-' || (v.agent_id %% %s), 'bench.tool-' || ((v.agent_id + 1) %% %s))
        ON CONFLICT DO NOTHING
        """,
        [TOOLS, TOOLS],
    )
    sql(
        """
        INSERT INTO telemetry_dailytoolusage (agent_id, day, tool_name, server_address, calls, errors, last_called_at)
        SELECT v.agent_id, (now() - d * interval '1 day')::date, t.tool, '', 20, 0, now() - d * interval '1 day'
        FROM registry_agentversion v
        CROSS JOIN generate_series(0, 6) d
        CROSS JOIN LATERAL (VALUES ('bench.tool-' || (v.agent_id %% %s)), ('Bench tool ' || ((v.agent_id + 1) %% %s)),
                                   (CASE WHEN v.agent_id %% %s = 0 THEN 'web_search' END)) AS t (tool)
        WHERE t.tool IS NOT NULL
        """,
        [TOOLS, TOOLS, UNGRANTED_EVERY],
    )
    sql(
        """
        INSERT INTO telemetry_tooluse (agent_id, tool_name, server_address, calls, first_called_at, last_called_at)
        SELECT agent_id, tool_name, server_address, sum(calls), min(last_called_at), max(last_called_at)
        FROM telemetry_dailytoolusage GROUP BY 1, 2, 3
        """
    )
    sql("ANALYZE")
    rows = sql("SELECT count(*) FROM telemetry_dailytoolusage")[0][0]
    print(
        f"populated {TOOLS} tools, versions with grants, {rows} daily tool-usage rows in {time.monotonic() - started:.0f}s"
    )


# --- 1. The sweep -------------------------------------------------------------------------

HAND_SQL = {
    "shadow_agent": """SELECT identity AS subject, max(last_seen_at) FROM telemetry_sighting
        WHERE agent_id IS NULL AND last_seen_at >= now() - interval '30 days'
          AND identity NOT IN (SELECT identity FROM telemetry_externalidentity WHERE expires_at > now())
        GROUP BY identity""",
    "unapproved_in_production": """SELECT s.agent_id AS subject, max(s.last_seen_at) FROM telemetry_sighting s
        WHERE s.environment IN ('production', 'unspecified') AND s.agent_id IS NOT NULL AND s.last_seen_at >= now() - interval '7 days'
          AND s.agent_id NOT IN (SELECT agent_id FROM governance_release WHERE environment = 'production')
        GROUP BY s.agent_id""",
    "lapsed_monitoring": """SELECT m.agent_id AS subject, m.last_seen_at FROM telemetry_monitoringstate m
        JOIN registry_agent a ON a.id = m.agent_id
        WHERE a.lifecycle IN ('pilot', 'production') AND m.deadline_at < now()""",
    "review_overdue": """SELECT agent_id AS subject, max(due_at) FROM governance_review r JOIN registry_agent a ON a.id = r.agent_id
        WHERE r.status = 'open' AND r.due_at < now() AND a.lifecycle <> 'retired' GROUP BY agent_id""",
    "orphaned_owner": """SELECT a.id AS subject FROM registry_agent a JOIN registry_user u ON u.id = a.owner_id
        WHERE NOT u.is_active AND a.lifecycle <> 'retired'""",
    "no_success_metric": """SELECT id AS subject FROM registry_agent WHERE lifecycle = 'production'
        AND (business_outcome = '' OR metric_name = '' OR metric_target IS NULL)""",
    "low_adoption": """SELECT id AS subject FROM registry_agent WHERE lifecycle = 'production'
        AND production_since <= now() - interval '60 days' AND eligible_users > 0
        AND active_users IS NOT NULL AND active_users::float / eligible_users < 0.2""",
    # control_gap / evidence_expired: the agents and their evidence and waivers, as the check reads them.
    "control_gap": """SELECT a.id AS subject, e.control_code, e.status FROM registry_agent a
        LEFT JOIN governance_evidence e ON e.agent_id = a.id AND e.status <> 'superseded'
        WHERE a.lifecycle IN ('pilot', 'production')""",
    "evidence_expired": """SELECT agent_id AS subject, control_code FROM governance_evidence WHERE status = 'accepted'
        AND (valid_until <= now() OR invalidated_at <= now())""",
    # Tools called in the last 7 days (one last-call row per agent, tool and server) that the running
    # version (newest production release, else newest release, else newest version) grants under no
    # spelling (key, name, MCP name on the same server): the check's own statement, grouped per agent.
    "ungranted_tool_use": """SELECT u.agent_id AS subject, count(*) FROM telemetry_tooluse AS u
        LEFT JOIN (
          SELECT DISTINCT ON (agent_id) agent_id, version_id FROM (
            SELECT agent_id, version_id, 0 AS rank, environment = 'production' AS production, approved_at AS at, id
            FROM governance_release
            WHERE agent_id IN (SELECT agent_id FROM telemetry_tooluse WHERE last_called_at >= now() - interval '7 days')
            UNION ALL
            SELECT agent_id, id, 1, false, created_at, id FROM registry_agentversion
            WHERE agent_id IN (SELECT agent_id FROM telemetry_tooluse WHERE last_called_at >= now() - interval '7 days')
          ) AS candidates ORDER BY agent_id, rank, production DESC, at DESC, id DESC) AS r ON r.agent_id = u.agent_id
        WHERE u.last_called_at >= now() - interval '7 days' AND NOT EXISTS (
          SELECT FROM registry_agentversiontool g JOIN registry_tool t ON t.id = g.tool_id
          LEFT JOIN registry_mcpserver m ON m.id = t.mcp_server_id
          WHERE g.version_id = r.version_id AND u.tool_name IN (t.key, t.name, t.mcp_name)
            AND (u.server_address = '' OR lower(m.host) = lower(u.server_address)))
        GROUP BY u.agent_id""",
    "telemetry_rejected": """SELECT 'telemetry source: ' || s.name AS subject
        FROM (SELECT source_id, day, sum(received) AS received, sum(rejected) AS rejected FROM telemetry_ingestday
              WHERE day >= (now() AT TIME ZONE 'UTC')::date - 1 GROUP BY source_id, day) d
        JOIN telemetry_telemetrysource s ON s.id = d.source_id
        WHERE d.rejected * 100 > d.received * 5
        GROUP BY s.name""",
}


# The same job written by hand: each check's full answer (subject, severity, details; the summary is
# only needed for rows that open, so the steady-state comparison leaves it out) compared with the open
# findings as the sweep compares them: new, cleared, and changed severity or details. Read-only, like a
# steady sweep, which writes nothing. control_gap spells out the default policy's applicability rules.
_TIER_SEVERITY = "CASE WHEN a.risk_tier IN ('low', 'medium', 'high', 'critical') THEN a.risk_tier ELSE 'medium' END"
_TIER = "CASE WHEN s.id IS NULL THEN a.risk_tier ELSE COALESCE(NULLIF(s.override_tier, ''), s.computed_tier) END"
_MODE = "COALESCE(NULLIF(a.mode, ''), CASE WHEN a.autonomy_level >= 3 THEN 'execute' ELSE 'assist' END)"
# Evidence controls of the default policy in code order (owner and monitoring have their own checks).
_APPLIES = [
    ("audit-trail", "true"),
    ("consent", "f.ext"),
    ("data-minimisation", "(f.personal OR f.regulated)"),
    ("data-residency", "f.classification = 'restricted'"),
    ("decision-rights", "(f.tier IN ('high', 'critical') OR f.mode = 'execute')"),
    ("disclosure", "(f.ext OR f.eu = 'transparency')"),
    ("escalation", "true"),
    ("evaluation", "f.tier IN ('medium', 'high', 'critical')"),
    ("fria", "f.eu = 'high_risk'"),
    ("guardrails", "f.tier IN ('medium', 'high', 'critical')"),
    ("human-checkpoint", "f.tier IN ('high', 'critical')"),
    ("human-oversight", "f.eu = 'high_risk'"),
    ("identity-isolation", "f.ext"),
    ("incident-15min", "f.ext"),
    ("incident-response", "f.tier IN ('high', 'critical')"),
    ("independent-review", "f.tier = 'critical'"),
    ("kill-switch", "f.tier = 'critical'"),
    ("knowledge-quality", "f.pattern = 'expert_empowerment'"),
    ("log-retention", "f.eu = 'high_risk'"),
    ("realtime-monitoring", "f.ext"),
    ("release-gate", "true"),
    ("responsible-ai", "f.tier IN ('high', 'critical')"),
    ("rollback", "f.tier IN ('medium', 'high', 'critical')"),
    ("scope", "true"),
    ("security-review", "f.tier IN ('high', 'critical')"),
    ("sla-monitoring", "f.tier IN ('high', 'critical')"),
    ("tool-allowlist", "f.tier IN ('medium', 'high', 'critical')"),
]
_REQUIRED = "array_remove(ARRAY[" + ", ".join(f"CASE WHEN {c} THEN '{code}' END" for code, c in _APPLIES) + "], NULL)"
EQUIVALENT_SQL = {
    "shadow_agent": """SELECT identity AS subject,
          CASE WHEN bool_or(environment IN ('production', 'unspecified')) THEN 'high' ELSE 'medium' END AS severity,
          jsonb_build_object('environments', jsonb_agg(DISTINCT environment ORDER BY environment)) AS details
        FROM telemetry_sighting
        WHERE agent_id IS NULL AND last_seen_at >= now() - interval '30 days'
          AND identity NOT IN (SELECT identity FROM telemetry_externalidentity WHERE expires_at > now())
        GROUP BY identity""",
    "unapproved_in_production": """SELECT a.id AS subject,
          CASE WHEN a.risk_tier IN ('high', 'critical') THEN 'critical' ELSE 'high' END AS severity,
          '{}'::jsonb AS details
        FROM registry_agent a
        WHERE a.id IN (SELECT agent_id FROM telemetry_sighting WHERE environment IN ('production', 'unspecified')
                       AND agent_id IS NOT NULL AND last_seen_at >= now() - interval '7 days')
          AND a.id NOT IN (SELECT agent_id FROM governance_release WHERE environment = 'production')""",
    "lapsed_monitoring": f"""SELECT a.id AS subject, {_TIER_SEVERITY} AS severity,
          jsonb_build_object('never_reported', m.last_seen_at IS NULL) AS details
        FROM telemetry_monitoringstate m JOIN registry_agent a ON a.id = m.agent_id
        WHERE a.lifecycle IN ('pilot', 'production') AND m.deadline_at < now()""",
    "review_overdue": f"""SELECT a.id AS subject, {_TIER_SEVERITY} AS severity, '{{}}'::jsonb AS details
        FROM registry_agent a WHERE a.lifecycle <> 'retired'
          AND a.id IN (SELECT agent_id FROM governance_review WHERE status = 'open' AND due_at < now())""",
    "orphaned_owner": """SELECT a.id AS subject,
          CASE WHEN a.lifecycle IN ('pilot', 'production') THEN 'high' ELSE 'medium' END AS severity,
          '{}'::jsonb AS details
        FROM registry_agent a JOIN registry_user u ON u.id = a.owner_id
        WHERE NOT u.is_active AND a.lifecycle <> 'retired'""",
    # Agents with accepted evidence or a waiver in force lose those controls from their gaps.
    "control_gap": f"""SELECT g.id AS subject, CASE WHEN cardinality(g.gaps) > 2 THEN 'high' ELSE 'medium' END AS severity,
          jsonb_build_object('controls', to_jsonb(g.gaps)) AS details
        FROM (
          SELECT f.id, CASE WHEN p.proven IS NULL THEN {_REQUIRED}
                 ELSE ARRAY(SELECT c FROM unnest({_REQUIRED}) WITH ORDINALITY AS u (c, i)
                            WHERE c <> ALL(p.proven) ORDER BY i) END AS gaps
          FROM (
            SELECT a.id, {_TIER} AS tier, {_MODE} AS mode, a.external_facing AS ext, a.pattern,
                   a.data_classification AS classification, a.handles_personal_data AS personal,
                   a.handles_regulated_data AS regulated, COALESCE(s.eu_ai_act_category, '') AS eu
            FROM registry_agent a
            LEFT JOIN governance_riskassessment s ON s.agent_id = a.id AND s.status = 'confirmed'
            WHERE a.lifecycle IN ('pilot', 'production') OFFSET 0
          ) AS f
          LEFT JOIN (
            SELECT agent_id, array_agg(control_code) AS proven FROM (
              SELECT agent_id, control_code FROM governance_evidence WHERE status = 'accepted'
              UNION SELECT agent_id, control_code FROM governance_waiver
                    WHERE revoked_at IS NULL AND expires_at > now()) AS x
            GROUP BY agent_id
          ) AS p ON p.agent_id = f.id
          OFFSET 0
        ) AS g WHERE cardinality(g.gaps) > 0""",
    "evidence_expired": """SELECT agent_id AS subject, 'medium' AS severity,
          jsonb_build_object('controls', jsonb_agg(DISTINCT control_code ORDER BY control_code)) AS details
        FROM governance_evidence WHERE status = 'accepted' AND (valid_until <= now() OR invalidated_at <= now())
        GROUP BY agent_id""",
    "no_success_metric": """SELECT id AS subject, 'low' AS severity, '{}'::jsonb AS details
        FROM registry_agent WHERE lifecycle = 'production'
          AND (business_outcome = '' OR metric_name = '' OR metric_target IS NULL)""",
    "low_adoption": """SELECT id AS subject, 'low' AS severity,
          jsonb_build_object('active_users', active_users, 'eligible_users', eligible_users) AS details
        FROM registry_agent WHERE lifecycle = 'production'
          AND production_since <= now() - interval '60 days' AND eligible_users > active_users * 5
          AND active_users IS NOT NULL""",
    # The worst day of each source over today and yesterday, when over the default share (5%).
    "telemetry_rejected": """SELECT DISTINCT ON (d.source_id) 'telemetry source: ' || s.name AS subject,
          CASE WHEN round(100.0 * d.rejected / d.received, 1) >= 25 THEN 'high' ELSE 'medium' END AS severity,
          jsonb_build_object('source', s.id, 'day', d.day::text, 'received', d.received, 'rejected', d.rejected,
                             'threshold_percent', 5) AS details
        FROM (SELECT source_id, day, sum(received) AS received, sum(rejected) AS rejected FROM telemetry_ingestday
              WHERE day >= (now() AT TIME ZONE 'UTC')::date - 1 AND day <= (now() AT TIME ZONE 'UTC')::date
              GROUP BY source_id, day) d
        JOIN telemetry_telemetrysource s ON s.id = d.source_id
        WHERE d.received > 0 AND d.rejected * 100 > d.received * 5
        ORDER BY d.source_id, d.rejected::float / d.received DESC, d.day""",
}


# Checks whose findings name an identity (a shadow agent, a telemetry source) rather than an agent.
IDENTITY_KINDS = ("shadow_agent", "telemetry_rejected")


def equivalent_sql(kind: str, wanted: str) -> str:
    """The steady-state reconciliation by hand: what would open, resolve and change."""
    col = "identity" if kind in IDENTITY_KINDS else "agent_id"
    return f"""SELECT count(*) FILTER (WHERE o.id IS NULL), count(*) FILTER (WHERE w.subject IS NULL),
          count(*) FILTER (WHERE o.id IS NOT NULL AND w.subject IS NOT NULL
                           AND (o.severity <> w.severity OR o.details <> w.details))
        FROM (SELECT id, {col} AS subject, severity, details FROM governance_finding
              WHERE kind = '{kind}' AND resolved_at IS NULL) AS o
        FULL JOIN ({wanted}) AS w ON w.subject = o.subject"""


def reconcile_sql(kind: str, detect: str) -> str:
    """The detection plus the steady-state reconciliation a sweep does: which wanted subjects have no
    open finding, which open findings are no longer wanted."""
    col = "identity" if kind in IDENTITY_KINDS else "agent_id"
    return f"""WITH wanted AS ({detect}), open AS (
          SELECT {col} AS subject FROM governance_finding WHERE kind = '{kind}' AND resolved_at IS NULL)
        SELECT (SELECT count(*) FROM (SELECT subject FROM wanted EXCEPT SELECT subject FROM open) n),
               (SELECT count(*) FROM (SELECT subject FROM open EXCEPT SELECT subject FROM wanted) c)"""


def bench_sweep():
    from governance import checks
    from telemetry import services as telemetry_services

    print("\n== 1. full sweep of all checks vs hand-written SQL")
    # Every run starts from the same place: no findings, a first sweep that opens them, then VACUUM
    # ANALYZE (a re-run would otherwise measure over the dead rows of the previous runs' writes).
    sql("TRUNCATE governance_findingevent, governance_webhookdelivery, governance_finding, governance_checkrun")
    sql(
        """UPDATE telemetry_monitoringstate m SET last_seen_at = b.last_seen_at
           FROM bench_monitoring_baseline b WHERE b.agent_id = m.agent_id"""
    )
    # Stored deadlines in step with the reports, as ingest and the hourly refresh keep them (not timed).
    telemetry_services.refresh_monitoring_deadlines()
    sql("VACUUM ANALYZE telemetry_monitoringstate")
    started = time.monotonic()
    checks.run_all_checks()
    print(f"first sweep (opens findings): {time.monotonic() - started:.2f}s")
    sql("VACUUM ANALYZE governance_finding")
    sql("VACUUM ANALYZE governance_findingevent")
    # The hand-written SQL gets the memory the checks give themselves (settings.CHECKS_WORK_MEM_MB).
    sql("SELECT set_config('work_mem', %s, false)", [f"{settings.CHECKS_WORK_MEM_MB}MB"])
    # Queries counted in one steady sweep, timed in the next: recording every statement (Django's
    # debug cursor) is the bench's cost, not the sweep's.
    with CaptureQueriesContext(connection) as ctx:
        checks.run_all_checks()
    queries = len(ctx)
    # Sweeps and the two hand-written baselines take turns, BENCH_SWEEP_RUNS rounds; medians.
    per_check, hand, equivalent = defaultdict(list), defaultdict(list), defaultdict(list)
    sweeps, raws, fulls = [], [], []
    for _ in range(SWEEP_RUNS):
        started = time.monotonic()
        for kind in checks.available_checks():
            t0 = time.monotonic()
            checks.run_check(kind)
            per_check[kind].append(time.monotonic() - t0)
        sweeps.append(time.monotonic() - started)
        started = time.monotonic()
        for kind, statement in HAND_SQL.items():
            t0 = time.monotonic()
            sql(reconcile_sql(kind, statement))
            hand[kind].append(time.monotonic() - t0)
        raws.append(time.monotonic() - started)
        started = time.monotonic()
        for kind, statement in EQUIVALENT_SQL.items():
            t0 = time.monotonic()
            new, cleared, changed = sql(equivalent_sql(kind, statement))[0]
            equivalent[kind].append(time.monotonic() - t0)
            if new or cleared or changed:  # the hand-written answer must be the sweep's: nothing left to do
                print(f"  ! {kind}: hand-written SQL disagrees ({new} new, {cleared} cleared, {changed} changed)")
        fulls.append(time.monotonic() - started)
    sweep, raw, full = statistics.median(sweeps), statistics.median(raws), statistics.median(fulls)
    print(f"medians of {SWEEP_RUNS} rounds")
    print(f"  {'check':<26} {'sweep':>8}      {'detection SQL':>13}   {'equivalent SQL':>14}")
    for kind, seconds in per_check.items():
        print(
            f"  {kind:<26} {statistics.median(seconds) * 1000:5.0f} ms"
            f"   {statistics.median(hand[kind] or [0]) * 1000:10.0f} ms"
            f"   {statistics.median(equivalent[kind] or [0]) * 1000:11.0f} ms"
        )
    print(f"steady sweep: {sweep:.3f}s (runs {min(sweeps):.3f}-{max(sweeps):.3f}), {queries} queries")
    # ungranted_tool_use's own line: its share of the sweep, the sweep without it, and its detection SQL.
    mine = [seconds for seconds in per_check["ungranted_tool_use"]]
    without = [total - own for total, own in zip(sweeps, mine, strict=True)]
    open_count = sql(
        "SELECT count(*) FROM governance_finding WHERE kind = 'ungranted_tool_use' AND resolved_at IS NULL"
    )
    print(
        f"ungranted_tool_use: {statistics.median(mine) * 1000:.0f} ms ({open_count[0][0]} open findings), "
        f"{statistics.median(mine) / sweep:.0%} of the sweep; sweep without it {statistics.median(without):.3f}s, "
        f"with it {sweep:.3f}s (ratio {sweep / statistics.median(without):.2f}); "
        f"vs its detection SQL {statistics.median(hand['ungranted_tool_use']) * 1000:.0f} ms "
        f"(ratio {statistics.median(mine) / statistics.median(hand['ungranted_tool_use']):.2f})"
    )
    for label, baseline, runs in (
        ("detection-only SQL (subjects, no severity or details)", raw, raws),
        ("equivalent SQL (same rows, same comparison)", full, fulls),
    ):
        ratios = [a / b for a, b in zip(sweeps, runs, strict=True)]
        print(
            f"  vs {label}: {baseline:.3f}s, ratio {sweep / baseline:.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f})"
        )
    # Like for like: only the checks that have a hand-written equivalent, against it, round by round. The
    # others (drift, budgets, dormancy, attestations, MCP changes, incident clocks) have no equivalent
    # here: drift and budgets are measured against their own SQL in bench/drift_bench.py.
    covered = [kind for kind in per_check if kind in EQUIVALENT_SQL]
    mine_rounds = [sum(per_check[kind][i] for kind in covered) for i in range(SWEEP_RUNS)]
    theirs_rounds = [sum(equivalent[kind][i] for kind in covered) for i in range(SWEEP_RUNS)]
    ratios = [a / b for a, b in zip(mine_rounds, theirs_rounds, strict=True)]
    like = statistics.median(mine_rounds) / statistics.median(theirs_rounds)
    print(
        f"  like for like, the {len(covered)} checks with an equivalent SQL: sweep {statistics.median(mine_rounds):.3f}s"
        f" vs {statistics.median(theirs_rounds):.3f}s, ratio {like:.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f});"
        f" without one: {', '.join(kind for kind in per_check if kind not in EQUIVALENT_SQL)}"
    )
    return statistics.median(mine_rounds), statistics.median(theirs_rounds), queries


# --- 2. Batch ingest over HTTP --------------------------------------------------------------


def start_gunicorn():
    env = {**os.environ, "DEBUG": "false", "DB_CONN_MAX_AGE": "60"}
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--workers",
            "2",
            # Threads let a worker take the next request while one waits on the database: with plain sync
            # workers two slow batches block every single event behind them (BENCH_THREADS=1 for sync).
            "--worker-class",
            "gthread" if THREADS > 1 else "sync",
            "--threads",
            str(THREADS),
            "--bind",
            f"127.0.0.1:{PORT}",
            "--no-control-socket",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/v1/traces", timeout=1)  # noqa: S310
            return process
        except urllib.error.HTTPError:
            return process  # it answers (405 for a GET): ready
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("gunicorn did not start")


def post(url, token, body: bytes):
    request = urllib.request.Request(  # noqa: S310
        url, data=body, method="POST", headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.loads(response.read())


def batch(n, offset, stamp):
    return json.dumps(
        {
            "events": [
                {
                    "agent": f"bench.agent-{1 + (offset + i) % AGENTS}",
                    "environment": "production",
                    "timestamp": stamp,
                    "kind": "invocation",
                    "latency_ms": 800,
                    "input_tokens": 500,
                    "output_tokens": 80,
                    "event_id": f"b-{offset + i}-{uuid.uuid4().hex[:8]}",
                }
                for i in range(n)
            ]
        }
    ).encode()


def bench_batch_ingest(token):
    print("\n== 2. batch ingest over HTTP (gunicorn, 2 workers, batches of 1,000)")
    url = f"http://127.0.0.1:{PORT}/api/v1/telemetry/events"
    stamp = datetime.now(UTC).isoformat()
    batches = [batch(1000, i * 1000, stamp) for i in range(60)]
    post(url, token, batches[0])  # warm-up
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda b: post(url, token, b), batches[1:]))
    elapsed = time.monotonic() - started
    accepted = sum(r["accepted"] for r in results)
    http_rate = accepted / elapsed
    print(f"HTTP: {accepted} events in {elapsed:.2f}s = {http_rate:,.0f} events/s")
    # The same number of events by raw COPY, plus the same rollups (sightings, monitoring, usage) in SQL.
    rows = [
        (
            1,
            None,
            f"bench.agent-{1 + i % AGENTS}",
            None,
            "production",
            "invocation",
            stamp,
            stamp,
            1,
            False,
            800.0,
            500,
            80,
            "0",
        )
        for i in range(accepted)
    ]
    started = time.monotonic()
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cols = "source_id, event_id, identity, agent_id, environment, kind, occurred_at, received_at, count, is_error, latency_ms, input_tokens, output_tokens, cost"
        cursor.execute(
            f"CREATE TEMP TABLE bench_copy ON COMMIT DROP AS SELECT {cols} FROM telemetry_telemetryevent WITH NO DATA"
        )
        with cursor.connection.cursor().copy(f"COPY bench_copy ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute("UPDATE bench_copy b SET agent_id = a.id FROM registry_agent a WHERE a.key = b.identity")
        cursor.execute(f"INSERT INTO telemetry_telemetryevent ({cols}) SELECT {cols} FROM bench_copy")
        cursor.execute(
            """INSERT INTO telemetry_sighting AS s (identity, environment, source_id, agent_id, agent_name, service_name,
                 first_seen_at, last_seen_at, event_count)
               SELECT identity, environment, source_id, max(agent_id), '', '', min(occurred_at), max(occurred_at), sum(count)
               FROM bench_copy GROUP BY 1, 2, 3
               ON CONFLICT (identity, environment, source_id) DO UPDATE SET
                 last_seen_at = GREATEST(s.last_seen_at, excluded.last_seen_at), event_count = s.event_count + excluded.event_count"""
        )
        cursor.execute(
            """INSERT INTO telemetry_monitoringstate AS m (agent_id, last_seen_at, last_environment, last_source_id, updated_at)
               SELECT agent_id, max(occurred_at), 'production', 1, now() FROM bench_copy WHERE agent_id IS NOT NULL GROUP BY 1
               ON CONFLICT (agent_id) DO UPDATE SET last_seen_at = GREATEST(m.last_seen_at, excluded.last_seen_at)"""
        )
        cursor.execute(
            """INSERT INTO telemetry_dailyusage AS d (agent_id, day, environment, invocations, errors, tool_calls, escalations,
                 heartbeats, input_tokens, output_tokens, cost, latency_ms_total, latency_samples, latency_ms_max, """
            + HIST_COLUMNS
            + """)
               SELECT agent_id, (occurred_at AT TIME ZONE 'UTC')::date, environment, sum(count), 0, 0, 0, 0,
                 sum(input_tokens), sum(output_tokens), sum(cost), sum(latency_ms), count(*), max(latency_ms), """
            + HIST_SELECT
            + """
               FROM bench_copy WHERE agent_id IS NOT NULL GROUP BY 1, 2, 3
               ON CONFLICT (agent_id, day, environment) DO UPDATE SET invocations = d.invocations + excluded.invocations,
                 input_tokens = d.input_tokens + excluded.input_tokens, """
            + HIST_ADD
        )
    raw_elapsed = time.monotonic() - started
    raw_rate = accepted / raw_elapsed
    print(f"raw COPY + rollups: {accepted} events in {raw_elapsed:.2f}s = {raw_rate:,.0f} events/s")
    print(f"HTTP / raw: {http_rate / raw_rate:.2f}")
    return http_rate, raw_rate


# --- 2b. OTLP exports, whole runs against runs split across exports (the trace window at work) ------


def otlp_export(runs, *, parts=("invoke_agent", "chat", "execute_tool")) -> bytes:
    """One OTLP/JSON export holding, for each run (trace id, agent number), the spans named in ``parts``."""
    now_ns = time.time_ns()
    spans = []
    for trace_id, n in runs:
        root = trace_id[:16]
        for op in parts:
            attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": op}}]
            if op == "invoke_agent":
                attrs.append({"key": "gen_ai.agent.id", "value": {"stringValue": f"bench.agent-{1 + n % AGENTS}"}})
            elif op == "chat":
                attrs += [
                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "500"}},
                    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "80"}},
                ]
            spans.append(
                {
                    "traceId": trace_id,
                    "spanId": root
                    if op == "invoke_agent"
                    else trace_id[16:24] + ("00000001" if op == "chat" else "00000002"),
                    "parentSpanId": "" if op == "invoke_agent" else root,
                    "name": op,
                    "startTimeUnixNano": str(now_ns - 2_000_000_000),
                    "endTimeUnixNano": str(now_ns - 1_000_000_000),
                    "attributes": attrs,
                }
            )
    # A labelled environment: code before issue 12 refused every span of an unlabelled resource.
    resource = {
        "attributes": [
            {"key": "service.name", "value": {"stringValue": "bench"}},
            {"key": "deployment.environment.name", "value": {"stringValue": "production"}},
        ]
    }
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}).encode()


def bench_otlp(token, runs_per_export=50, exports=40):
    """Spans per second through /v1/traces: each run's three spans in one export, against the same runs
    with the children in one export and the agent spans in the next (held, then attributed)."""
    print(f"\n== 2b. OTLP over HTTP: {exports} x {runs_per_export} runs of 3 spans, whole vs split")
    url = f"http://127.0.0.1:{PORT}/v1/traces"

    def runs(k):
        return [(uuid.uuid4().hex, k * runs_per_export + i) for i in range(runs_per_export)]

    whole = [otlp_export(runs(k)) for k in range(exports)]
    split = []
    for k in range(exports):
        r = runs(k)
        split.append((otlp_export(r, parts=("chat", "execute_tool")), otlp_export(r, parts=("invoke_agent",))))
    post(url, token, whole[0])  # warm-up
    rates = {}
    for label, bodies in (("whole", [[b] for b in whole[1:]]), ("split", [list(p) for p in split[1:]])):
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            # The two halves of one run go one after the other (children first), runs in parallel.
            list(pool.map(lambda pair: [post(url, token, b) for b in pair], bodies))
        elapsed = time.monotonic() - started
        spans = (exports - 1) * runs_per_export * 3
        rates[label] = spans / elapsed
        print(f"{label}: {spans} spans in {elapsed:.2f}s = {rates[label]:,.0f} spans/s")
    print(f"split / whole: {rates['split'] / rates['whole']:.2f}")
    return rates


# --- 3. Single-event latency at 200 requests per second -----------------------------------------


def bench_single(token, rate=200, seconds=10):
    print(f"\n== 3. single-event ingest at {rate} requests/s for {seconds}s")
    url = f"http://127.0.0.1:{PORT}/api/v1/telemetry/events"
    latencies, errors = [], []
    lock = threading.Lock()

    def one(i):
        body = json.dumps(
            {
                "events": [
                    {
                        "agent": f"bench.agent-{1 + i % AGENTS}",
                        "environment": "production",
                        "kind": "heartbeat",
                        "timestamp": datetime.now(UTC).isoformat(),
                    }
                ]
            }
        ).encode()
        t0 = time.monotonic()
        try:
            post(url, token, body)
        except Exception as exc:  # counted and reported
            with lock:
                errors.append(str(exc))
            return
        with lock:
            latencies.append((time.monotonic() - t0) * 1000)

    total = rate * seconds
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for i in range(total):
            # Open loop: requests go out on schedule whether or not earlier ones have answered.
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i)
    achieved = len(latencies) / (time.monotonic() - start)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"{len(latencies)} ok, {len(errors)} errors, {achieved:.0f} req/s achieved; p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    return p50, p95


# --- 4. The tool and evaluation rollups at ingest ------------------------------------------


def bench_tool_rollups(batches=20, size=1000):
    """store_events of tool-call batches that name their tool (MCP server for half) and carry an
    evaluation result, against the same batches without them, alternating, in-process: the cost of the
    daily tool, last-call and evaluation upserts on top of the events, sightings and usage rollups."""
    from telemetry.identity import identify
    from telemetry.ingest import Evaluation, Event, store_events
    from telemetry.models import TelemetrySource

    print(f"\n== 4. tool and evaluation rollups at ingest ({batches} x {size} events, in-process)")
    source = TelemetrySource.objects.get(name="Bench gateway")
    now = datetime.now(UTC)

    def events(offset, named):
        result = []
        for i in range(size):
            n = offset + i
            result.append(
                Event(
                    identity=identify(f"bench.agent-{1 + n % AGENTS}", None, None),
                    environment="production",
                    kind="tool_call",
                    occurred_at=now,
                    event_id=f"r-{n}-{uuid.uuid4().hex[:8]}",
                    tool_name=f"bench.tool-{n % TOOLS}" if named else "",
                    tool_server="mcp.bench.example" if named and n % 2 else "",
                    evaluations=(Evaluation("relevance", (n % 100) / 100),) if named else (),
                )
            )
        return result

    plain, named = [], []
    for b in range(batches):
        for is_named, times in ((False, plain), (True, named)):
            batch_events = events(b * size * 2 + (size if is_named else 0), is_named)
            started = time.monotonic()
            store_events(source.pk, batch_events, now=now)
            times.append(time.monotonic() - started)
    p, n = statistics.median(plain), statistics.median(named)
    print(f"without tools: {size / p:,.0f} events/s; with tools and evaluations: {size / n:,.0f} events/s")
    print(f"ratio {p / n:.2f} (with / without throughput)")
    return p / n


# --- 5. Retention: dropping a day's partition against the batched deletes of before -------------------

PLAIN = "bench_plain_events"


def bench_partitions():
    from telemetry import partitions
    from telemetry.models import TelemetrySource

    print(
        f"\n== 5. retention: drop a day's partition vs batched deletes "
        f"({PARTITION_EVENTS:,} events over {PARTITION_DAYS} days)"
    )
    if not partitions.is_partitioned():
        sys.exit("The raw events table is not partitioned: run the migrations first.")
    days = [PARTITION_FIRST_DAY + timedelta(days=n) for n in range(PARTITION_DAYS)]
    # What an interrupted run left behind goes first (dropping days is what partitions are for).
    for day in days:
        partitions.drop_day(day)
    sql(f"DROP TABLE IF EXISTS {PLAIN}")
    source = TelemetrySource.objects.order_by("pk").first()
    if source is None:
        source = TelemetrySource.objects.create(name="Bench gateway", kind="gateway")
    started = time.monotonic()
    for day in days:
        partitions.create_day(day)
    first = datetime.combine(PARTITION_FIRST_DAY, datetime.min.time(), UTC)
    # Evenly over the 30 days, in time order (as events arrive), the columns ingest fills.
    sql(
        """
        INSERT INTO telemetry_telemetryevent (source_id, event_id, identity, agent_id, environment, environment_label,
          kind, occurred_at, received_at, count, is_error, latency_ms, input_tokens, output_tokens, cost)
        SELECT %s, NULL, 'bench.agent-' || (1 + g %% 50000), NULL, 'production', '', 'invocation', t, t, 1, g %% 50 = 0,
          900, 800, 120, 0.002
        FROM generate_series(0, %s - 1) g,
             LATERAL (SELECT %s::timestamptz + (g::float8 * %s / %s) * interval '1 second' AS t) AS at
        """,
        [source.pk, PARTITION_EVENTS, first, PARTITION_DAYS * 86400, PARTITION_EVENTS],
    )
    # Vacuumed like the plain copy below (and like a 30-day-old day in production).
    sql("VACUUM ANALYZE telemetry_telemetryevent")
    built = time.monotonic() - started
    print(f"partitioned: {PARTITION_EVENTS:,} events in {PARTITION_DAYS} day partitions, built in {built:.0f}s")
    # The table as it was before partitioning: one plain table, keyed by id, with the same indexes.
    started = time.monotonic()
    sql(f"CREATE TABLE {PLAIN} (LIKE telemetry_telemetryevent INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    end = first + timedelta(days=PARTITION_DAYS)
    sql(
        f"INSERT INTO {PLAIN} SELECT * FROM telemetry_telemetryevent WHERE occurred_at >= %s AND occurred_at < %s",  # noqa: S608
        [first, end],
    )
    sql(f"ALTER TABLE {PLAIN} ADD PRIMARY KEY (id)")
    sql(f"CREATE INDEX {PLAIN}_occurred ON {PLAIN} (occurred_at)")
    sql(f"CREATE INDEX {PLAIN}_agent ON {PLAIN} (agent_id, occurred_at DESC)")
    sql(f"CREATE INDEX {PLAIN}_agent_id ON {PLAIN} (agent_id)")
    sql(f"CREATE INDEX {PLAIN}_source_id ON {PLAIN} (source_id)")
    sql(f"VACUUM ANALYZE {PLAIN}")
    print(f"plain copy built in {time.monotonic() - started:.0f}s")
    cutoff = first + timedelta(days=1)
    rows = sql(f"SELECT count(*) FROM {PLAIN} WHERE occurred_at < %s", [cutoff])[0][0]  # noqa: S608
    same = sql(
        f'SELECT count(*) FROM "{partitions.day_partition(PARTITION_FIRST_DAY)}"'  # noqa: S608
    )[0][0]
    assert rows == same, (rows, same)
    # Each timed step starts from a checkpoint, so neither pays for the other's (or the build's) dirty pages.
    sql("CHECKPOINT")
    # Before: the purge's statements (ids by the model's ordering, 10,000 at a time, then DELETE … IN),
    # each batch committed on its own.
    started = time.monotonic()
    batches = deleted = 0
    while True:
        ids = [
            r[0]
            for r in sql(
                f"SELECT id FROM {PLAIN} WHERE occurred_at < %s ORDER BY occurred_at DESC, id DESC LIMIT %s",  # noqa: S608
                [cutoff, PURGE_BATCH],
            )
        ]
        if not ids:
            break
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {PLAIN} WHERE id = ANY(%s)", [ids])  # noqa: S608
            deleted += cursor.rowcount
        batches += 1
    batched = time.monotonic() - started
    sql("CHECKPOINT")
    # After: the purge drops the day's partition.
    started = time.monotonic()
    assert partitions.drop_day(PARTITION_FIRST_DAY)
    dropped = time.monotonic() - started
    assert deleted == rows
    left = sql(
        "SELECT count(*) FROM telemetry_telemetryevent WHERE occurred_at >= %s AND occurred_at < %s", [first, end]
    )
    print(f"one day = {rows:,} events; {left[0][0]:,} events left in the other {PARTITION_DAYS - 1} days")
    print(f"batched deletes (plain table, {batches} batches of {PURGE_BATCH:,}): {batched:.3f}s")
    print(f"drop the day's partition: {dropped * 1000:.1f} ms")
    print(f"drop / batched deletes: {dropped / batched:.4%}")
    # Not part of the comparison: what the deletes leave behind for autovacuum (dead rows in the table
    # and in every index of the 10 million rows); a dropped day leaves nothing.
    started = time.monotonic()
    sql(f"VACUUM {PLAIN}")
    print(f"(the VACUUM the batched deletes leave behind: {time.monotonic() - started:.2f}s)")
    for day in days:
        partitions.drop_day(day)
    sql(f"DROP TABLE {PLAIN}")
    return rows, batched, dropped


def main():
    call_command("migrate", verbosity=0)
    if PARTS - {"partitions"}:
        populate()
        populate_tools()
    from registry.models import User
    from telemetry import services as telemetry_services
    from telemetry.models import TelemetrySource

    # The populated events "reported" every agent, so their keys are locked, as ingest would have done;
    # otherwise the first HTTP batches would measure 50,000 one-time key locks (each audited).
    sql(
        "UPDATE registry_agent SET key_locked_at = now() WHERE key_locked_at IS NULL AND key LIKE %s", ["bench.agent-%"]
    )
    summary = []
    if "sweep" in PARTS:
        sweep, raw, queries = bench_sweep()
        summary.append(f"sweep {sweep:.2f}s vs SQL {raw:.2f}s (ratio {sweep / raw:.2f}), {queries} queries")
    if "ingest" in PARTS:
        admin = User.objects.get(username="bench-admin")
        _token, raw_token = telemetry_services.create_ingest_token(
            TelemetrySource.objects.get(name="Bench gateway"), actor=admin, name=f"bench {datetime.now(UTC):%H%M%S}"
        )
        server = start_gunicorn()
        try:
            http_rate, raw_rate = bench_batch_ingest(raw_token)
            otlp_rates = bench_otlp(raw_token) if "otlp" in PARTS else None
            p50, p95 = bench_single(raw_token)
        finally:
            server.terminate()
            server.wait(timeout=10)
        summary.append(
            f"batch ingest {http_rate:,.0f} events/s vs raw {raw_rate:,.0f} events/s ({http_rate / raw_rate:.2f})"
        )
        summary.append(f"single-event p50 {p50:.1f} ms, p95 {p95:.1f} ms at 200 req/s")
        if otlp_rates:
            summary.append(
                f"OTLP whole runs {otlp_rates['whole']:,.0f} spans/s, split runs {otlp_rates['split']:,.0f} spans/s "
                f"({otlp_rates['split'] / otlp_rates['whole']:.2f})"
            )
    if "partitions" in PARTS:
        rows, batched, dropped = bench_partitions()
        summary.append(
            f"retention of one day ({rows:,} of {PARTITION_EVENTS:,} events): drop {dropped * 1000:.1f} ms vs batched "
            f"deletes {batched:.2f}s ({dropped / batched:.4%})"
        )
    if "rollups" in PARTS:
        ratio = bench_tool_rollups()
        summary.append(f"ingest with tool and evaluation rollups: {ratio:.2f} of the throughput without them")
    print("\n== summary")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
