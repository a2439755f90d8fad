"""Telemetry's part of the demo: two sources, twelve weeks of usage for the running agents,
fresh heartbeats for most, a few silent long enough to lapse, and a handful of shadow agents.

Runs after ``registry.demo.build`` and before the lifecycle moves into production
(see registry/demo.py), so it reads each agent's *target* state from the plan
rather than its current one. Deterministic (seeded) and idempotent: when the
gateway source exists, it skips. Recent events go through the real ingest
pipeline (``store_events``), so sightings, monitoring state and key locks are
what production would write; the older rollups are bulk-written directly
(raw events that old would be past retention anyway).
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from registry import demo as registry_demo
from registry.choices import Lifecycle
from registry.demo_data import ADMIN_USERNAME
from registry.models import Agent, User
from telemetry import services
from telemetry.identity import identify
from telemetry.ingest import Evaluation, Event, EventError, store_events
from telemetry.models import DailyEvaluation, DailyToolUsage, DailyUsage, TelemetrySource, ToolUse

SEED = 7
GATEWAY = "Aldermoor AI gateway"
COLLECTOR = "Aldermoor OpenTelemetry collector"
HISTORY_DAYS = 84
# Every agent whose position among the running ones hits these stays silent (lapsed) or never reports.
SILENT_EVERY = 11
NEVER_EVERY = 29

# (agent id, agent name, service, environment, days since first seen): telemetry nobody registered.
# The UUID is what an agent framework makes up per process when no id is configured.
SHADOWS = (
    ("marketing.copy-helper", "", "", "production", 40),
    ("3f1c2a8e-9b7d-4e4f-8a51-0c2d9e6b7a10", "Expense checker", "finance-api", "production", 12),
    ("legal.contract-summariser", "", "", "staging", 20),
    ("", "Supplier chat", "procurement-portal", "development", 5),
    ("vendor.helpdesk-bot", "", "", "production", 60),
)
EXTERNAL = "vendor.helpdesk-bot"
# What two shadow agents called: a catalog tool, a tool of a registered MCP server and one nothing knows.
SHADOW_TOOLS = {
    "marketing.copy-helper": (
        ("confluence-search", ""),
        ("search_employees", "mcp.aldermoor.example"),
        ("web_search", ""),
    ),
    "legal.contract-summariser": (("clm-read-contract", ""), ("create_ticket", "mcp.servicedesk.aldermoor.example")),
}
# Tool calls and evaluations: every agent calls the tools its newest version grants and reports two
# evaluations; a few also call what nothing grants (raising ungranted_tool_use when the checks run).
TOOL_HISTORY_DAYS = 30
UNGRANTED_EVERY = 13
UNGRANTED_TOOLS = (("web_search", ""), ("create_ticket", "mcp.servicedesk.aldermoor.example"))
EVALUATIONS = (("relevance", 0.72, 0.97), ("groundedness", 0.6, 0.95))


def running_plan():
    """(key, target state) of the agents the demo runs (pilot, production, or suspended after them)."""
    targets = registry_demo.lifecycle_targets()
    return sorted(
        (key, target)
        for key, target in targets.items()
        if target in (Lifecycle.PILOT, Lifecycle.PRODUCTION, Lifecycle.SUSPENDED)
    )


def silent_keys() -> set[str]:
    running = [key for key, target in running_plan() if target != Lifecycle.SUSPENDED]
    return {key for i, key in enumerate(running) if i % SILENT_EVERY == SILENT_EVERY - 1}


def never_keys() -> set[str]:
    running = [key for key, target in running_plan() if target != Lifecycle.SUSPENDED]
    return {key for i, key in enumerate(running) if i % NEVER_EVERY == NEVER_EVERY - 2}


def environment_for(target: str) -> str:
    return "staging" if target == Lifecycle.PILOT else "production"


def build(stdout) -> None:
    if TelemetrySource.objects.filter(name=GATEWAY).exists():
        stdout.write("telemetry: demo sources exist already; skipped.")
        return
    admin = User.objects.get(username=ADMIN_USERNAME)
    rng = random.Random(SEED)  # noqa: S311 (demo data)
    gateway, _ = services.create_source(
        actor=admin,
        name=GATEWAY,
        kind="gateway",
        owner=admin,
        description="The API gateway every agent's model calls go through; sends heartbeats and usage.",
    )
    collector, _ = services.create_source(
        actor=admin,
        name=COLLECTOR,
        kind="collector",
        owner=admin,
        description="OpenTelemetry traces from agent frameworks (GenAI semantic conventions).",
    )
    now = timezone.now().replace(microsecond=0)
    agents = {a.key: a for a in Agent.objects.filter(key__in=[k for k, _ in running_plan()])}
    silent, never = silent_keys(), never_keys()
    rollups, events = [], []
    for key, target in running_plan():
        agent = agents.get(key)
        if agent is None or key in never:
            continue
        environment = environment_for(target)
        volume = rng.randint(20, 400)
        # Silent agents stopped 10 to 20 days ago: longer than any tier's window.
        stopped = now - timedelta(days=rng.randint(10, 20)) if key in silent else now
        last_day = (stopped - timedelta(days=1)).date()
        for offset in range(HISTORY_DAYS, 1, -1):
            day = (now - timedelta(days=offset)).date()
            if day > last_day:
                break
            invocations = max(0, int(volume * rng.uniform(0.6, 1.3) * (0.4 if day.weekday() >= 5 else 1)))
            tokens_in = invocations * rng.randint(600, 2400)
            rollups.append(
                DailyUsage(
                    agent=agent,
                    day=day,
                    environment=environment,
                    invocations=invocations,
                    errors=int(invocations * rng.uniform(0, 0.04)),
                    tool_calls=int(invocations * rng.uniform(0.5, 2.5)),
                    escalations=int(invocations * rng.uniform(0, 0.02)),
                    heartbeats=288,
                    input_tokens=tokens_in,
                    output_tokens=tokens_in // rng.randint(4, 9),
                    cost=(Decimal(tokens_in) * Decimal("0.000003")).quantize(Decimal("0.000001")),
                    latency_ms_total=invocations * rng.uniform(600, 3500),
                    latency_samples=invocations,
                    latency_ms_max=rng.uniform(4000, 15000),
                )
            )
        identity = identify(key, None, None)
        first = now - timedelta(days=HISTORY_DAYS)
        events.append(Event(identity=identity, environment=environment, kind="heartbeat", occurred_at=first))
        for hours_ago in (3, 2, 1):
            at = stopped - timedelta(hours=hours_ago, minutes=rng.randint(0, 50))
            events.append(Event(identity=identity, environment=environment, kind="heartbeat", occurred_at=at))
            events.append(
                Event(
                    identity=identity,
                    environment=environment,
                    kind="invocation",
                    occurred_at=at,
                    count=rng.randint(1, 20),
                    latency_ms=rng.uniform(500, 4000),
                    input_tokens=rng.randint(800, 5000),
                    output_tokens=rng.randint(100, 900),
                    cost=Decimal("0.012"),
                )
            )
    DailyUsage.objects.bulk_create(rollups, ignore_conflicts=True, batch_size=2000)
    store_events(gateway.pk, events, now=now)
    tool_rows = _tools_and_evaluations(rng, collector, agents, silent | never, now)
    shadow_events = []
    for agent_id, name, service, environment, days in SHADOWS:
        identity = identify(agent_id or None, name or None, service or None)
        for at in (now - timedelta(days=days), now - timedelta(hours=rng.randint(1, 30))):
            shadow_events.append(
                Event(
                    identity=identity,
                    environment=environment,
                    kind="invocation",
                    occurred_at=at,
                    count=rng.randint(5, 60),
                )
            )
        # What an unregistered agent called is kept for its claim form (tools and MCP servers seen).
        for tool, server in SHADOW_TOOLS.get(agent_id or name, ()):
            shadow_events.append(
                Event(
                    identity=identity,
                    environment=environment,
                    kind="tool_call",
                    occurred_at=now - timedelta(hours=rng.randint(1, 30)),
                    count=rng.randint(3, 40),
                    tool_name=tool,
                    tool_server=server,
                )
            )
    store_events(collector.pk, shadow_events, now=now)
    intake = _collector_intake(collector, admin, now)
    services.mark_identity_external(
        EXTERNAL,
        actor=User.objects.filter(groups__name="governance_board", is_active=True).order_by("username").first()
        or admin,
        reason="The helpdesk vendor's own support bot, covered by the vendor contract; re-check at renewal.",
        expires_at=now + timedelta(days=180),
    )
    stdout.write(
        f"telemetry: 2 sources, {len(rollups)} daily rollups, {len(events)} recent events for "
        f"{len(agents) - len(never)} agents ({len(silent)} silent long enough to lapse, {len(never)} never reporting), "
        f"{len(SHADOWS)} unregistered identities ({EXTERNAL} marked external), "
        f"{tool_rows} daily tool and evaluation rollups; {intake}."
    )


# Exports the collector received as real frameworks send them: a label of its own, none at all, a
# common one, and a run whose agent span never arrived. (which running agent, environment label, trace id)
COLLECTOR_RUNS = (
    (0, "blue-eu", "4bf92f3577b34da6a3ce929d0e0e4736"),
    (1, None, "5ca03f4688c45eb7b4df03a1f1f15847"),
    (1, "uat", "6db14a5799d56fc8c5e014b2a2a26958"),
)
LOST_TRACE = "7ec25b68aae67ad9d6f125c3b3b37a69"


def _collector_intake(collector, admin, now) -> str:
    """The collector's own environment table, a few labelled or unlabelled runs, some refused events
    and two child spans whose agent span never came: its page shows what it rejected, and the share
    is high enough for the telemetry_rejected check to raise a finding."""
    from telemetry import otlp, traces
    from telemetry.environments import table_for
    from telemetry.ingest import Rejection, parse_batch_event

    collector = services.update_source(
        collector, actor=admin, default_environment="unspecified", environment_aliases={"blue-*": "production"}
    )
    end_ns = int((now - timedelta(minutes=20)).timestamp() * 1e9)

    def span(trace_id, span_id, name, attributes, parent="", environment=None):
        resource = {"service.name": "claims-platform"}
        if environment:
            resource["deployment.environment.name"] = environment
        return otlp.Span(trace_id, span_id, parent, name, end_ns - 2_000_000_000, end_ns, attributes, 0, resource)

    keys = [key for key, _target in running_plan()]
    spans = []
    for n, (which, label, trace_id) in enumerate(COLLECTOR_RUNS):
        agent_id = keys[which]
        root = f"{n + 1:016x}"
        spans.append(
            span(
                trace_id,
                root,
                "invoke_agent",
                {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": agent_id},
                environment=label,
            )
        )
        spans.append(
            span(
                trace_id,
                f"{n + 11:016x}",
                "chat",
                {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 900, "gen_ai.usage.output_tokens": 120},
                parent=root,
                environment=label,
            )
        )
    table = table_for(collector)
    traces.store_conversion(collector.pk, otlp.spans_to_events(spans, now, table), now=now)
    lost = [
        span(LOST_TRACE, "00000000000000a1", "chat", {"gen_ai.operation.name": "chat"}, parent="00000000000000a0"),
        span(
            LOST_TRACE,
            "00000000000000a2",
            "execute_tool",
            {"gen_ai.operation.name": "execute_tool"},
            parent="00000000000000a0",
        ),
    ]
    held_at = now - traces.window() - timedelta(minutes=1)
    traces.store_conversion(collector.pk, otlp.spans_to_events(lost, now, table), now=held_at)
    closed = traces.close_trace_window(now=now)
    refused = [
        {"agent": keys[0], "timestamp": "yesterday", "kind": "invocation"},
        {"agent_name": "", "environment": "prod", "timestamp": now.isoformat(), "kind": "invocation"},
    ]
    rejections = []
    for index, raw in enumerate(refused):
        try:
            parse_batch_event(raw, now, table)
        except EventError as exc:
            reason = "no_identity" if "agent" in exc.errors else "bad_time"
            detail = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
            rejections.append(Rejection(reason, f"event {index}: {detail}", raw))
    store_events(collector.pk, [], now=now, rejections=rejections)
    return (
        f"collector: {len(spans)} spans, {closed.unattributed} unattributed children, {len(rejections)} refused events"
    )


def _granted_tools(agents: dict) -> dict[int, list[str]]:
    """agent id -> keys of the tools its newest version grants."""
    from registry.models import AgentVersion

    newest: dict[int, list[str]] = {}
    for version in (
        AgentVersion.objects.filter(agent__in=list(agents.values()))
        .order_by("agent_id", "-created_at", "-id")
        .prefetch_related("tools")
    ):
        newest.setdefault(version.agent_id, [t.key for t in version.tools.all()])
    return newest


def _tools_and_evaluations(rng, collector, agents: dict, quiet: set, now) -> int:
    """Thirty days of tool-call and evaluation rollups for the reporting agents (bulk-written, like the
    usage history), then today's calls through the ingest pipeline, through the collector."""
    granted = _granted_tools(agents)
    targets = dict(running_plan())
    tool_rows, evaluation_rows, events = [], [], []
    for index, (key, agent) in enumerate(sorted(agents.items())):
        if key in quiet:
            continue
        calls = [(tool, "") for tool in granted.get(agent.pk, [])]
        if index % UNGRANTED_EVERY == UNGRANTED_EVERY - 1:
            calls.append(UNGRANTED_TOOLS[(index // UNGRANTED_EVERY) % len(UNGRANTED_TOOLS)])
        for offset in range(TOOL_HISTORY_DAYS, 1, -1):
            day_at = (now - timedelta(days=offset)).replace(hour=12, minute=0, second=0)
            for tool, server in calls:
                count = rng.randint(5, 80)
                tool_rows.append(
                    DailyToolUsage(
                        agent=agent,
                        day=day_at.date(),
                        tool_name=tool,
                        server_address=server,
                        calls=count,
                        errors=int(count * rng.uniform(0, 0.05)),
                        last_called_at=day_at,
                    )
                )
            for name, low, high in EVALUATIONS:
                results = rng.randint(3, 30)
                scores = [rng.uniform(low, high) for _ in range(results)]
                evaluation_rows.append(
                    DailyEvaluation(
                        agent=agent,
                        day=day_at.date(),
                        name=name,
                        results=results,
                        scored=results,
                        score_sum=sum(scores),
                        score_min=min(scores),
                        score_max=max(scores),
                        last_label="pass" if min(scores) >= 0.7 else "review",
                        last_at=day_at,
                    )
                )
        identity = identify(key, None, None)
        environment = environment_for(targets.get(key, Lifecycle.PRODUCTION))
        at = now - timedelta(minutes=rng.randint(5, 50))
        for tool, server in calls:
            events.append(
                Event(
                    identity=identity,
                    environment=environment,
                    kind="tool_call",
                    occurred_at=at,
                    count=rng.randint(1, 5),
                    tool_name=tool,
                    tool_server=server,
                )
            )
        events.append(
            Event(
                identity=identity,
                environment=environment,
                kind="evaluation",
                occurred_at=at,
                evaluations=tuple(
                    Evaluation(name, round(rng.uniform(low, high), 3)) for name, low, high in EVALUATIONS
                ),
            )
        )
    DailyToolUsage.objects.bulk_create(tool_rows, ignore_conflicts=True, batch_size=2000)
    # Each tool's first and last call over the history (today's calls below move the last one on).
    uses: dict[tuple, ToolUse] = {}
    for row in tool_rows:
        use = uses.get((row.agent_id, row.tool_name, row.server_address))
        if use is None:
            uses[(row.agent_id, row.tool_name, row.server_address)] = ToolUse(
                agent=row.agent,
                tool_name=row.tool_name,
                server_address=row.server_address,
                calls=row.calls,
                first_called_at=row.last_called_at,
                last_called_at=row.last_called_at,
            )
        else:
            use.calls += row.calls
            use.first_called_at = min(use.first_called_at, row.last_called_at)
            use.last_called_at = max(use.last_called_at, row.last_called_at)
    ToolUse.objects.bulk_create(list(uses.values()), ignore_conflicts=True, batch_size=2000)
    DailyEvaluation.objects.bulk_create(evaluation_rows, ignore_conflicts=True, batch_size=2000)
    store_events(collector.pk, events, now=now)
    return len(tool_rows) + len(evaluation_rows)


def settle_deadlines(stdout) -> None:
    """After the registry backdated the agents' lifecycle dates (behind the lifecycle hook, which saw
    the moves happen today): bring every stored monitoring deadline in step, as the hourly refresh would."""
    changed = services.refresh_monitoring_deadlines()
    stdout.write(f"telemetry: {changed} monitoring deadlines follow the backdated lifecycle dates.")
