"""Attribution across exports, step by step (``telemetry.traces``), with the spans built by hand so each
case is exact: chains through intermediate spans and several exports, re-sent exports, and the window."""

from datetime import timedelta

import pytest
from django.utils import timezone

from telemetry import otlp, traces
from telemetry.models import DailyUsage, PendingSpan, SpanOwner, TelemetryEvent

TRACE = "0af7651916cd43dd8448eb211c80319c"


def span(span_id, name, attributes, parent=""):
    end = int((timezone.now() - timedelta(seconds=5)).timestamp() * 1e9)
    return otlp.Span(TRACE, span_id, parent, name, end - 1_000_000, end, attributes, 0, {"service.name": "svc"})


AGENT = span(
    "00000000000000a0", "invoke_agent", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": "ops.bot"}
)
STEP = span("00000000000000b0", "workflow step", {}, parent="00000000000000a0")  # not a GenAI span
TOOL = span("00000000000000c0", "execute_tool", {"gen_ai.operation.name": "execute_tool"}, parent="00000000000000b0")
CHAT = span(
    "00000000000000d0",
    "chat",
    {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 50, "gen_ai.usage.output_tokens": 5},
    parent="00000000000000c0",
)


def export(source, *spans):
    now = timezone.now()
    traces.store_conversion(source.pk, otlp.spans_to_events(list(spans), now), now=now)


@pytest.mark.parametrize(
    "order",
    [
        [[CHAT], [TOOL], [STEP], [AGENT]],
        [[AGENT], [STEP], [TOOL], [CHAT]],
        [[CHAT, TOOL], [STEP, AGENT]],
        [[CHAT], [TOOL, STEP], [AGENT]],
        [[AGENT, STEP], [TOOL, CHAT]],
        [[CHAT], [AGENT, STEP], [TOOL]],
    ],
    ids=["leaf-first", "root-first", "halves", "middle-together", "root-half-first", "gap-last"],
)
def test_a_run_spread_over_exports_lands_once_in_any_order(db, make_agent, source, order):
    agent = make_agent("ops.bot")
    # when each export arrives on its own
    for spans in order:
        export(source, *spans)
    # then the invocation, the tool call and the chat's tokens are the agent's, once, and nothing waits
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.invocations, usage.tool_calls, usage.input_tokens, usage.output_tokens) == (1, 1, 50, 5)
    assert TelemetryEvent.objects.filter(agent=agent).count() == 3
    assert not PendingSpan.objects.exists()


def test_a_re_sent_export_is_counted_once(db, make_agent, source):
    agent = make_agent("ops.bot")
    export(source, TOOL, CHAT)
    export(source, TOOL, CHAT)  # the exporter retried
    assert PendingSpan.objects.count() == 2
    export(source, AGENT, STEP)
    export(source, TOOL, CHAT)  # and once more after the agent span came
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.invocations, usage.tool_calls, usage.input_tokens) == (1, 1, 50)


def test_owners_are_forgotten_after_the_window(db, make_agent, source):
    make_agent("ops.bot")
    export(source, AGENT)
    assert SpanOwner.objects.filter(span_id=AGENT.span_id).exists()
    traces.close_trace_window(now=timezone.now() + timedelta(minutes=14))
    assert SpanOwner.objects.exists()
    result = traces.close_trace_window(now=timezone.now() + timedelta(minutes=16))
    assert result.forgotten_owners == 1
    assert not SpanOwner.objects.exists()


def test_a_child_held_while_its_agent_span_was_stored_concurrently_is_attributed_when_the_window_closes(
    db, make_agent, source
):
    # given a child held although its agent span was recorded meanwhile (two exports stored at once
    # cannot see each other's rows)
    agent = make_agent("ops.bot")
    export(source, AGENT, STEP, TOOL)
    PendingSpan.objects.create(
        source=source,
        trace_id=TRACE,
        span_id=CHAT.span_id,
        waiting_for=TOOL.span_id,
        kind="model_call",
        occurred_at=timezone.now(),
        received_at=timezone.now() - timedelta(minutes=16),
        environment="unspecified",
        input_tokens=50,
        output_tokens=5,
    )
    # when the window closes
    result = traces.close_trace_window()
    # then it is attributed, not counted as lost
    assert (result.attributed, result.unattributed) == (1, 0)
    assert DailyUsage.objects.get(agent=agent).input_tokens == 50
