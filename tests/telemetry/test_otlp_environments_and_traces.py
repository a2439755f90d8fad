"""What real OpenTelemetry exports look like, sent with the official SDK and OTLP/HTTP exporter to a live
server: resources that name no environment or name it their own way, and agent runs whose child spans
and agent span travel in different exports (in either order). Nothing of it may be lost."""

from datetime import timedelta

import pytest
from django.utils import timezone
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from governance import checks
from governance.models import Finding
from telemetry import services as telemetry_services
from telemetry import traces
from telemetry.models import (
    DailyUsage,
    IngestDay,
    PendingSpan,
    RejectedItem,
    RejectionCount,
    Sighting,
    TelemetryEvent,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _provider(endpoint: str, token: str, resource: dict):
    provider = TracerProvider(resource=Resource.create(resource))
    exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers={"Authorization": f"Bearer {token}"})
    # As frameworks configure it: spans wait in the queue until a flush (here: when the test says).
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    return provider


def _chat(tracer, parent_context, tokens=(100, 20)):
    return tracer.start_span(
        "chat gpt-5",
        context=parent_context,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": tokens[0],
            "gen_ai.usage.output_tokens": tokens[1],
        },
    )


def _tool(tracer, parent_context):
    return tracer.start_span(
        "execute_tool lookup",
        context=parent_context,
        attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"},
    )


def _agent_span(tracer, agent_id, totals=None):
    attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": agent_id}
    if totals:
        attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"] = totals
    return tracer.start_span(f"invoke_agent {agent_id}", attributes=attrs)


def _run(tracer, agent_id):
    with tracer.start_as_current_span(
        f"invoke_agent {agent_id}", attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": agent_id}
    ):
        with tracer.start_as_current_span(
            "chat gpt-5",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 2,
            },
        ):
            pass


def test_a_resource_with_no_environment_is_kept_as_unspecified_and_read_as_live(
    live_server, make_agent, source_with_token
):
    # given a registered agent with no production release, and an unregistered one, both sending only
    # service.name on their resource (the usual shadow agent)
    agent = make_agent("claims.assessor", name="Claims assessor")
    _source, token = source_with_token
    provider = _provider(live_server.url, token, {"service.name": "claims-api"})
    tracer = provider.get_tracer("framework")
    # when
    _run(tracer, "claims.assessor")
    _run(tracer, "shadow.pricing-bot")
    provider.force_flush()
    provider.shutdown()
    # then nothing was rejected: both are seen, filed under unspecified, with no label
    sightings = {s.identity: s for s in Sighting.objects.all()}
    assert set(sightings) == {"claims.assessor", "shadow.pricing-bot"}
    assert {(s.environment, s.environment_label) for s in sightings.values()} == {("unspecified", "")}
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.environment, usage.invocations, usage.input_tokens, usage.output_tokens) == ("unspecified", 1, 10, 2)
    assert not RejectedItem.objects.exists()
    # and the checks read unspecified as production: a shadow agent at high severity, and the registered
    # agent runs "in production" without an approved release
    checks.run_check("shadow_agent")
    checks.run_check("unapproved_in_production")
    shadow = Finding.objects.get(kind="shadow_agent")
    assert (shadow.identity, shadow.severity) == ("shadow.pricing-bot", "high")
    assert Finding.objects.get(kind="unapproved_in_production").agent == agent


def test_prod_and_uat_labels_map_to_production_and_staging(live_server, make_agent, source_with_token):
    # given two agents, one deployed with deployment.environment.name=prod, the other with uat
    live = make_agent("hr.leave-assistant", name="Leave assistant")
    trial = make_agent("hr.onboarding", name="Onboarding")
    _source, token = source_with_token
    for agent_id, label in (("hr.leave-assistant", "prod"), ("hr.onboarding", "uat")):
        provider = _provider(
            live_server.url, token, {"service.name": "hr-portal", "deployment.environment.name": label}
        )
        _run(provider.get_tracer("framework"), agent_id)
        provider.force_flush()
        provider.shutdown()
    # then each is seen in its mapped environment, with the label as sent beside it
    rows = set(Sighting.objects.values_list("identity", "environment", "environment_label"))
    assert rows == {("hr.leave-assistant", "production", "prod"), ("hr.onboarding", "staging", "uat")}
    assert DailyUsage.objects.get(agent=live).environment == "production"
    assert DailyUsage.objects.get(agent=trial).environment == "staging"
    assert set(TelemetryEvent.objects.values_list("environment_label", flat=True)) == {"prod", "uat"}
    # and only the production one is unapproved in production
    checks.run_check("unapproved_in_production")
    assert list(Finding.objects.filter(kind="unapproved_in_production").values_list("agent__key", flat=True)) == [
        "hr.leave-assistant"
    ]


def test_a_source_default_and_its_own_aliases_apply(live_server, make_agent, source_with_token, admin):
    # given an administrator sets this source's default and maps its own label
    make_agent("ops.runbook")
    source, token = source_with_token
    telemetry_services.update_source(
        source, actor=admin, default_environment="staging", environment_aliases={"Blue-*": "production"}
    )
    # when one export names no environment and another names blue-eu
    for resource in ({"service.name": "ops"}, {"service.name": "ops", "deployment.environment.name": "blue-eu"}):
        provider = _provider(live_server.url, token, resource)
        _run(provider.get_tracer("framework"), "ops.runbook")
        provider.force_flush()
        provider.shutdown()
    # then
    assert set(Sighting.objects.values_list("environment", "environment_label")) == {
        ("staging", ""),
        ("production", "blue-eu"),
    }


def test_children_exported_before_their_agent_span_are_attributed_once(live_server, make_agent, source_with_token):
    # given a long run: the batch processor flushes the chat and tool spans before the agent span ends
    agent = make_agent("claims.assessor")
    source, token = source_with_token
    provider = _provider(live_server.url, token, {"service.name": "claims", "deployment.environment.name": "prd"})
    tracer = provider.get_tracer("framework")
    run = _agent_span(tracer, "claims.assessor")
    inside = trace.set_span_in_context(run)
    chat = _chat(tracer, inside, tokens=(300, 40))
    chat.end()
    tool = _tool(tracer, inside)
    tool.end()
    # when the first export carries only the children
    provider.force_flush()
    # then they are held, not counted, and not rejected either
    assert PendingSpan.objects.filter(source=source).count() == 2
    assert not DailyUsage.objects.exists()
    # when the agent span follows in the next export
    run.end()
    provider.force_flush()
    provider.shutdown()
    # then the whole run lands on the agent, once
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.environment, usage.invocations, usage.tool_calls) == ("production", 1, 1)
    assert (usage.input_tokens, usage.output_tokens) == (300, 40)
    assert not PendingSpan.objects.exists()
    assert Sighting.objects.get().event_count == 3
    assert TelemetryEvent.objects.filter(agent=agent).count() == 3
    # and closing the window later finds nothing left to report
    assert traces.close_trace_window(now=timezone.now() + timedelta(minutes=16)).unattributed == 0
    checks.run_check("telemetry_rejected")
    assert not Finding.objects.filter(kind="telemetry_rejected").exists()
    checks.run_check("unapproved_in_production")
    assert Finding.objects.get(kind="unapproved_in_production").agent == agent


def test_children_exported_after_their_agent_span_are_attributed_without_double_counting(
    live_server, make_agent, source_with_token
):
    # given an agent span that ends (and is exported) before its children, carrying the run's totals,
    # as some frameworks do, and a second run whose agent span carries no totals
    agent = make_agent("claims.assessor")
    source, token = source_with_token
    provider = _provider(live_server.url, token, {"service.name": "claims", "deployment.environment.name": "live"})
    tracer = provider.get_tracer("framework")
    with_totals = _agent_span(tracer, "claims.assessor", totals=(300, 40))
    without_totals = _agent_span(tracer, "claims.assessor")
    children = [
        _chat(tracer, trace.set_span_in_context(with_totals), tokens=(200, 30)),
        _chat(tracer, trace.set_span_in_context(with_totals), tokens=(100, 10)),
        _tool(tracer, trace.set_span_in_context(with_totals)),
        _chat(tracer, trace.set_span_in_context(without_totals), tokens=(7, 3)),
    ]
    with_totals.end()
    without_totals.end()
    provider.force_flush()
    # when the children come in a later export
    for child in children:
        child.end()
    provider.force_flush()
    provider.shutdown()
    # then: the first run's totals count once (not its children's again), the second run's child counts
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.environment, usage.invocations, usage.tool_calls) == ("production", 2, 1)
    assert (usage.input_tokens, usage.output_tokens) == (300 + 7, 40 + 3)
    assert TelemetryEvent.objects.filter(agent=agent).count() == 6
    assert not PendingSpan.objects.exists()
    assert Sighting.objects.get(identity="claims.assessor").event_count == 6
    checks.run_check("unapproved_in_production")
    assert Finding.objects.get(kind="unapproved_in_production").agent == agent


def test_children_whose_agent_span_never_arrives_are_reported_when_the_window_closes(
    live_server, make_agent, source_with_token
):
    # given a run whose agent span is lost (the process crashed before its last flush)
    make_agent("claims.assessor")
    source, token = source_with_token
    provider = _provider(live_server.url, token, {"service.name": "claims", "deployment.environment.name": "prod"})
    tracer = provider.get_tracer("framework")
    _run(tracer, "claims.assessor")  # a complete run: 2 spans
    lost = _agent_span(tracer, "claims.assessor")
    inside = trace.set_span_in_context(lost)
    for child in (_chat(tracer, inside), _tool(tracer, inside)):
        child.end()
    provider.force_flush()
    provider.shutdown()
    assert PendingSpan.objects.count() == 2
    # when the window is still open nothing is reported; once it closed, both children are
    assert traces.close_trace_window(now=timezone.now() + timedelta(minutes=14)).unattributed == 0
    result = traces.close_trace_window(now=timezone.now() + timedelta(minutes=16))
    # then they are counted as rejected for the source, and shown in full
    assert result.unattributed == 2
    assert not PendingSpan.objects.exists()
    assert RejectionCount.objects.get(source=source, reason="unattributed").count == 2
    day = IngestDay.objects.filter(source=source).totals()
    assert [(d["received"], d["rejected"]) for d in day] == [(4, 2)]
    items = RejectedItem.objects.filter(source=source, reason="unattributed")
    assert {i.payload["name"] for i in items} == {"chat gpt-5", "execute_tool lookup"}
    assert all("did not arrive within 15 minutes" in i.message for i in items)
    # and half of what the source sent today is lost: telemetry_rejected opens for it
    checks.run_check("telemetry_rejected")
    finding = Finding.objects.get(kind="telemetry_rejected")
    assert finding.identity == f"telemetry source: {source.name}"
    assert finding.details["rejected"] == 2
    assert "50.0%" in finding.summary


def test_a_model_call_below_a_remote_parent_is_no_agent_span_and_is_not_held(
    live_server, make_agent, source_with_token
):
    # given a plain service (no agent) called from an upstream service: its request span's parent is
    # remote, in another process whose spans never come through this exporter
    source, token = source_with_token
    provider = _provider(live_server.url, token, {"service.name": "quote-api"})
    tracer = provider.get_tracer("framework")
    upstream = trace.SpanContext(
        trace_id=0x5B8EFFF798038103D269B633813FC60C,
        span_id=0xEEE19B7EC3C1B173,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    request = tracer.start_span("POST /quote", context=trace.set_span_in_context(trace.NonRecordingSpan(upstream)))
    _chat(tracer, trace.set_span_in_context(request)).end()
    request.end()
    provider.force_flush()
    provider.shutdown()
    # then nothing waits for the upstream span, and nothing is counted as lost when the window closes
    assert not PendingSpan.objects.exists()
    assert traces.close_trace_window(now=timezone.now() + timedelta(minutes=16)).unattributed == 0
    assert not RejectedItem.objects.filter(source=source).exists()
    assert not TelemetryEvent.objects.exists()
