"""Both halves of OTLP intake at once: what a span says (tools, MCP servers, evaluations, identity
conventions) survives when its agent span comes in another export, and the token rule holds for
every agent operation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from telemetry import otlp, traces
from telemetry.models import DailyEvaluation, DailyToolUsage, DailyUsage, PendingSpan, RejectedItem, SpanOwner, ToolUse

TRACE = "1bf7651916cd43dd8448eb211c80319d"


def span(span_id, name, attributes, parent="", events=()):
    end = int((timezone.now() - timedelta(seconds=5)).timestamp() * 1e9)
    return otlp.Span(
        TRACE,
        span_id,
        parent,
        name,
        end - 1_000_000,
        end,
        attributes,
        0,
        {"service.name": "svc", "deployment.environment.name": "production"},
        events=list(events),
    )


AGENT = span(
    "00000000000000a0", "invoke_agent", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": "ops.bot"}
)
MCP_TOOL = span(
    "00000000000000c0",
    "tools/call leave_balance",
    {"mcp.method.name": "tools/call", "gen_ai.tool.name": "leave_balance", "server.address": "HR.example.com"},
    parent="00000000000000a0",
    events=[
        (
            "gen_ai.evaluation.result",
            {"gen_ai.evaluation.name": "groundedness", "gen_ai.evaluation.score.value": 0.75},
        )
    ],
)


def export(source, *spans, now=None):
    now = now or timezone.now()
    traces.store_conversion(source.pk, otlp.spans_to_events(list(spans), now), now=now)


def test_a_held_mcp_tool_call_keeps_its_tool_server_and_evaluation_when_its_agent_span_comes_later(
    db, make_agent, source
):
    agent = make_agent("ops.bot")
    # given the tool call's export arrives before its agent span's
    export(source, MCP_TOOL)
    assert PendingSpan.objects.get().tool_name == "leave_balance"
    # when the agent span arrives in the next export
    export(source, AGENT)
    # then the call counts for the agent, by tool and MCP server, with its evaluation result
    usage = DailyToolUsage.objects.get(agent=agent)
    assert (usage.tool_name, usage.server_address, usage.calls) == ("leave_balance", "hr.example.com", 1)
    assert ToolUse.objects.get(agent=agent).tool_name == "leave_balance"
    evaluation = DailyEvaluation.objects.get(agent=agent)
    assert (evaluation.name, evaluation.results, evaluation.mean_score) == ("groundedness", 1, 0.75)
    assert not PendingSpan.objects.exists()


def test_a_held_tool_call_attributed_when_the_window_closes_keeps_its_tool(db, make_agent, source):
    agent = make_agent("ops.bot")
    now = timezone.now()
    # given a held tool call, and its agent span recorded by an export stored at the same moment
    export(source, MCP_TOOL, now=now)
    SpanOwner.objects.create(
        source=source,
        trace_id=TRACE,
        span_id=AGENT.span_id,
        identity="ops.bot",
        received_at=now,
    )
    # when the window closes on the held call
    result = traces.close_trace_window(now=now + timedelta(minutes=16))
    # then it is attributed with its tool and server, not lost and not nameless
    assert (result.attributed, result.unattributed) == (1, 0)
    usage = DailyToolUsage.objects.get(agent=agent)
    assert (usage.tool_name, usage.server_address, usage.calls) == ("leave_balance", "hr.example.com", 1)
    assert DailyEvaluation.objects.get(agent=agent).name == "groundedness"


@pytest.mark.parametrize("operation", ["invoke_agent", "invoke_workflow"])
def test_agent_totals_win_over_children_for_every_agent_operation_across_exports(db, make_agent, source, operation):
    agent = make_agent("ops.bot")
    root = span(
        "00000000000000e0",
        operation,
        {
            "gen_ai.operation.name": operation,
            "gen_ai.agent.id": "ops.bot",
            "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 30,
        },
    )
    chat = span(
        "00000000000000e1",
        "chat",
        {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 25},
        parent="00000000000000e0",
    )
    # when the chat comes first and the run's span (with the run's totals) later
    export(source, chat)
    export(source, root)
    # then the run's totals count once, the chat's not on top of them
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.invocations, usage.input_tokens, usage.output_tokens) == (1, 120, 30)


def test_the_main_agent_names_a_span_no_ancestor_names_but_not_one_whose_ancestor_is_still_to_come(
    db, make_agent, source
):
    main = make_agent("planner.main")
    other = make_agent("ops.bot")
    lone = span(
        "00000000000000f0",
        "execute_tool search",
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search", "gen_ai.main_agent.id": "planner.main"},
    )
    child = span(
        "00000000000000f1",
        "execute_tool lookup",
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup", "gen_ai.main_agent.id": "planner.main"},
        parent="00000000000000a0",
    )
    # when a root tool call names only the main agent, and another's agent span is in a later export
    export(source, lone, child)
    export(source, AGENT)
    # then the root call is the main agent's, and the child goes to the agent span it descends from
    assert list(DailyToolUsage.objects.filter(agent=main).values_list("tool_name", flat=True)) == ["search"]
    assert list(DailyToolUsage.objects.filter(agent=other).values_list("tool_name", flat=True)) == ["lookup"]


WRAPPER = span(
    "00000000000000b1",
    "execute_tool leave_balance",
    {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "leave_balance"},
    parent="00000000000000a0",
)
INNER_MCP = span(
    "00000000000000b2",
    "tools/call leave_balance",
    {"mcp.method.name": "tools/call", "gen_ai.tool.name": "leave_balance", "server.address": "hr.example.com"},
    parent="00000000000000b1",
)


@pytest.mark.parametrize(
    ("order", "server"),
    [
        ([[AGENT, WRAPPER, INNER_MCP]], "hr.example.com"),  # one export: the rule as it always was
        ([[INNER_MCP], [AGENT, WRAPPER]], "hr.example.com"),  # the MCP span first, held
        ([[INNER_MCP], [WRAPPER], [AGENT]], "hr.example.com"),  # the MCP span, then its held wrapper
        ([[AGENT, WRAPPER], [INNER_MCP]], ""),  # the wrapper first: counted before its server was known
        ([[WRAPPER], [INNER_MCP], [AGENT]], "hr.example.com"),  # both held, completed level by level
    ],
    ids=["together", "mcp-first", "mcp-then-wrapper-held", "wrapper-first", "both-held"],
)
def test_an_mcp_call_inside_an_execute_tool_span_is_one_call_whichever_export_each_comes_in(
    db, make_agent, source, order, server
):
    agent = make_agent("ops.bot")
    # when the agent span, the framework's execute_tool span and the MCP span inside it arrive as given
    for spans in order:
        export(source, *spans)
    # then the agent made one tool call, nothing waits, and nothing was refused
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.invocations, usage.tool_calls) == (1, 1)
    rows = list(DailyToolUsage.objects.filter(agent=agent).values_list("tool_name", "server_address", "calls"))
    assert rows == [("leave_balance", server, 1)]
    assert not PendingSpan.objects.exists()
    assert not RejectedItem.objects.exists()


def test_a_held_mcp_call_whose_execute_tool_span_is_found_when_the_window_closes_is_not_counted_again(
    db, make_agent, source
):
    agent = make_agent("ops.bot")
    now = timezone.now()
    # given a held MCP span, and its execute_tool span counted by an export stored at the same moment
    export(source, INNER_MCP, now=now)
    SpanOwner.objects.create(
        source=source, trace_id=TRACE, span_id=WRAPPER.span_id, identity="ops.bot", tool_call=True, received_at=now
    )
    # when the window closes on it
    result = traces.close_trace_window(now=now + timedelta(minutes=16))
    # then it is neither counted a second time nor reported as lost
    assert (result.attributed, result.unattributed) == (0, 0)
    assert not DailyToolUsage.objects.filter(agent=agent).exists()
    assert not PendingSpan.objects.exists()
