"""Tool calls and evaluation results: the JSON batch's named tool calls, the OTLP extraction, the daily
rollups combining batches, and the agent page and API that show them."""

import json

import pytest
import time_machine

from telemetry.identity import identify
from telemetry.ingest import Evaluation, Event, store_events
from telemetry.models import DailyEvaluation, DailyToolUsage, DailyUsage, ToolUse
from telemetry.otlp import decode_json, spans_to_events


@pytest.fixture
def frozen():
    with time_machine.travel("2026-03-02T12:00:00Z", tick=False) as traveller:
        yield traveller


def event(**fields):
    base = {
        "agent": "hr.leave-assistant",
        "environment": "production",
        "timestamp": "2026-03-02T11:00:00Z",
        "kind": "tool_call",
    }
    base.update(fields)
    return base


def test_batch_tool_calls_that_name_a_tool_are_counted_per_tool_and_server(frozen, ingest, agent):
    # when
    response = ingest(
        [
            event(tool="leave_balance", mcp_server="MCP.HR.example.com", count=3),
            event(tool="leave_balance", mcp_server="mcp.hr.example.com", timestamp="2026-03-02T11:30:00Z"),
            event(tool="send_mail"),
            event(),  # a tool call naming no tool: counted in the daily usage only
        ]
    )
    # then
    assert response.json() == {"accepted": 4, "duplicates": 0, "rejected": []}
    rows = {
        (r.tool_name, r.server_address): (r.calls, r.last_called_at.isoformat()) for r in DailyToolUsage.objects.all()
    }
    assert rows == {
        ("leave_balance", "mcp.hr.example.com"): (4, "2026-03-02T11:30:00+00:00"),
        ("send_mail", ""): (1, "2026-03-02T11:00:00+00:00"),
    }
    assert DailyUsage.objects.get(agent=agent).tool_calls == 6
    # and each tool's first and last call, which the ungranted-tool check reads
    use = ToolUse.objects.get(tool_name="leave_balance")
    assert (use.calls, use.first_called_at.isoformat(), use.last_called_at.isoformat()) == (
        4,
        "2026-03-02T11:00:00+00:00",
        "2026-03-02T11:30:00+00:00",
    )


def test_batch_tool_fields_are_checked_field_by_field(frozen, ingest, agent):
    response = ingest(
        [
            event(kind="invocation", tool="leave_balance"),
            event(mcp_server="mcp.hr.example.com"),
            event(tool="x" * 201),
            event(tool=42),
        ]
    )
    body = response.json()
    errors = {r["index"]: r["errors"] for r in body["rejected"]}
    assert body["accepted"] == 0
    assert "Only tool_call events" in errors[0]["tool"]
    assert "Name the tool" in errors[1]["tool"]
    assert "At most 200" in errors[2]["tool"]
    assert "Must be a string" in errors[3]["tool"]
    assert not DailyToolUsage.objects.exists()


def test_rollups_combine_batches_exactly(frozen, agent, source):
    # given two batches of the same day
    def batch(scores, label, at):
        return [
            Event(
                identity=identify("hr.leave-assistant", None, None),
                environment="production",
                kind="invocation",
                occurred_at=at,
                evaluations=tuple(Evaluation("relevance", s, label) for s in scores),
            )
        ]

    from datetime import UTC, datetime

    # when
    store_events(source.pk, batch([0.8, 0.6], "ok", datetime(2026, 3, 2, 9, tzinfo=UTC)))
    store_events(source.pk, batch([0.2, None], "poor", datetime(2026, 3, 2, 10, tzinfo=UTC)))
    store_events(source.pk, batch([0.9], "", datetime(2026, 3, 2, 8, tzinfo=UTC)))  # late, older
    # then the mean is over every scored result, the minimum and the latest label across batches
    row = DailyEvaluation.objects.get()
    assert (row.results, row.scored, row.score_min, row.score_max, row.last_label) == (5, 4, 0.2, 0.9, "poor")
    assert row.mean_score == pytest.approx((0.8 + 0.6 + 0.2 + 0.9) / 4)


def test_a_resent_export_counts_its_tools_and_evaluations_once(db, agent, source):
    spans = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "hr"}},
                        {"key": "deployment.environment.name", "value": {"stringValue": "production"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "tools/call leave_balance",
                                "startTimeUnixNano": "1772444400000000000",
                                "endTimeUnixNano": "1772444401000000000",
                                "attributes": [
                                    {"key": "mcp.method.name", "value": {"stringValue": "tools/call"}},
                                    {"key": "server.address", "value": {"stringValue": "mcp.hr.example.com"}},
                                    {"key": "gen_ai.agent.id", "value": {"stringValue": "hr.leave-assistant"}},
                                ],
                                "events": [
                                    {
                                        "name": "gen_ai.evaluation.result",
                                        "attributes": [
                                            {"key": "gen_ai.evaluation.name", "value": {"stringValue": "safety"}},
                                            {"key": "gen_ai.evaluation.score.value", "value": {"doubleValue": 1.0}},
                                        ],
                                    }
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    from datetime import UTC, datetime

    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    converted = spans_to_events(decode_json(json.dumps(spans).encode()), now)
    # the tool is named by the span name, since gen_ai.tool.name is absent
    [only] = converted.events
    assert (only.kind, only.tool_name, only.tool_server) == ("tool_call", "leave_balance", "mcp.hr.example.com")
    store_events(source.pk, converted.events, now=now)
    store_events(source.pk, converted.events, now=now)
    assert DailyToolUsage.objects.get().calls == 1
    assert DailyEvaluation.objects.get().results == 1


def test_the_agent_page_shows_tools_called_and_evaluation_results(frozen, client, owner, agent, source):
    # given
    from datetime import UTC, datetime

    at = datetime(2026, 3, 2, 11, tzinfo=UTC)
    store_events(
        source.pk,
        [
            Event(
                identity=identify(agent.key, None, None),
                environment="production",
                kind="tool_call",
                occurred_at=at,
                tool_name="leave_balance",
                tool_server="mcp.hr.example.com",
                is_error=True,
                evaluations=(Evaluation("relevance", 0.75, "relevant"), Evaluation("relevance", 0.25, "")),
            )
        ],
    )
    client.force_login(owner)
    # when
    page = client.get(f"/agents/{agent.key}/").content.decode()
    # then
    assert "Tools called" in page
    assert "<code>leave_balance</code>" in page
    assert "<code>mcp.hr.example.com</code>" in page
    assert "Evaluation results" in page
    assert "<td>relevance</td><td>2</td><td>0.50</td><td>0.25</td><td>relevant</td>" in page


def test_the_agent_page_leaves_the_panels_out_when_nothing_was_reported(client, owner, agent):
    client.force_login(owner)
    page = client.get(f"/agents/{agent.key}/").content.decode()
    assert "Tools called" not in page
    assert "Evaluation results" not in page


def test_the_api_lists_tool_usage_and_evaluations_filtered_by_agent(frozen, client, owner, agent, source, make_agent):
    # given
    from datetime import UTC, datetime

    other = make_agent("it.helpdesk", name="Helpdesk")
    for a in (agent, other):
        store_events(
            source.pk,
            [
                Event(
                    identity=identify(a.key, None, None),
                    environment="production",
                    kind="tool_call",
                    occurred_at=datetime(2026, 3, 2, 11, tzinfo=UTC),
                    tool_name="lookup",
                    evaluations=(Evaluation("relevance", 0.5),),
                )
            ],
        )
    client.force_login(owner)
    # when
    tools = client.get("/api/v1/telemetry/tool-usage/", {"agent": agent.key}).json()
    evaluations = client.get("/api/v1/telemetry/evaluations/", {"agent": other.key, "name": "relevance"}).json()
    bad = client.get("/api/v1/telemetry/tool-usage/", {"since": "yesterday"})
    # then
    assert [(r["agent"], r["tool_name"], r["calls"]) for r in tools["results"]] == [(agent.key, "lookup", 1)]
    assert [(r["agent"], r["mean_score"], r["score_min"]) for r in evaluations["results"]] == [(other.key, 0.5, 0.5)]
    assert bad.status_code == 400
    assert "since" in bad.json()


@pytest.mark.parametrize(
    ("name", "attributes", "identity", "kind"),
    [
        ("invoke_workflow onboarding", {}, None, None),  # no identity at all: refused, counted as rejected
        ("invoke_workflow onboarding", {"gen_ai.agent.name": "Onboarding"}, "Onboarding@hr", "invocation"),
        ("x", {"gen_ai.operation.name": "invoke_workflow", "gen_ai.agent.id": "hr.flow"}, "hr.flow", "invocation"),
        ("x", {"gen_ai.agent.identity.name": "Leave bot", "gen_ai.agent.name": "x"}, "Leave bot@hr", None),
        (
            "x",
            {"gen_ai.agent.identity.id": "3f1c2a8e-9b7d-4e4f-8a51-0c2d9e6b7a10", "gen_ai.agent.id": "hr.leave"},
            "3f1c2a8e-9b7d-4e4f-8a51-0c2d9e6b7a10",
            None,
        ),
        (
            "x",
            {"gen_ai.agent.id": "3f1c2a8e-9b7d-4e4f-8a51-0c2d9e6b7a10", "gen_ai.agent.name": "Leave bot"},
            "Leave bot@hr",
            None,
        ),
        (
            "tools/call lookup",
            {"mcp.method.name": "tools/call", "gen_ai.main_agent.name": "Helpdesk"},
            "Helpdesk@hr",
            "tool_call",
        ),
        ("tools/list", {"mcp.method.name": "tools/list", "gen_ai.main_agent.name": "Helpdesk"}, None, None),
    ],
)
def test_span_identity_and_operation(name, attributes, identity, kind):
    """Which agent a single span names, and what it counts as (kind None: an invoke_agent span)."""
    from datetime import UTC, datetime

    from telemetry.otlp import Span

    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    ns = int(now.timestamp() * 1e9)
    span = Span(
        trace_id="t",
        span_id="s",
        parent_span_id="",
        name=name,
        start_ns=ns - 10**9,
        end_ns=ns,
        attributes={"gen_ai.operation.name": "invoke_agent", **attributes} if kind is None and identity else attributes,
        status_code=0,
        resource={"service.name": "hr", "deployment.environment.name": "production"},
    )
    converted = spans_to_events([span], now)
    if identity is None:
        assert converted.events == []
        return
    [event] = converted.events
    assert event.identity.value == identity
    assert event.kind == (kind or "invocation")
