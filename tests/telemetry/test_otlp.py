"""OTLP/HTTP traces: the official OpenTelemetry SDK and exporter report to us with no code of ours."""

import gzip
import json
import time

import pytest
from django.test import Client
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from telemetry.models import DailyUsage, IngestDay, RejectedItem, Sighting, TelemetryEvent


def _provider(endpoint: str, token: str, *, service: str, environment: str, attr="deployment.environment.name"):
    resource = Resource.create({"service.name": service, attr: environment})
    provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers={"Authorization": f"Bearer {token}"})
    # The batch processor, as frameworks use it: a trace's spans travel in one export.
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    return provider


def _run_agent(tracer, *, agent_id=None, agent_name=None, tokens=(100, 20), fail=False):
    attrs = {"gen_ai.operation.name": "invoke_agent"}
    if agent_id:
        attrs["gen_ai.agent.id"] = agent_id
    if agent_name:
        attrs["gen_ai.agent.name"] = agent_name
    with tracer.start_as_current_span(f"invoke_agent {agent_name or agent_id}", attributes=attrs) as span:
        with tracer.start_as_current_span(
            "chat gpt-5",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.usage.input_tokens": tokens[0],
                "gen_ai.usage.output_tokens": tokens[1],
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool lookup", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}
        ):
            pass
        with tracer.start_as_current_span(
            "chat gpt-5",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.usage.input_tokens": 7,
                "gen_ai.usage.output_tokens": 3,
            },
        ):
            pass
        if fail:
            span.set_status(Status(StatusCode.ERROR, "tool failed"))


@pytest.mark.django_db(transaction=True)
def test_the_opentelemetry_sdk_reports_through_otlp_protobuf(live_server, make_agent, source_with_token):
    # given a registered agent and a framework that invents a random id per process
    agent = make_agent("hr.leave-assistant", name="Leave assistant")
    _source, token = source_with_token
    provider = _provider(live_server.url, token, service="hr-portal", environment="production")
    tracer = provider.get_tracer("test-framework")
    # when
    _run_agent(tracer, agent_id="hr.leave-assistant", tokens=(100, 20))
    _run_agent(tracer, agent_id="hr.leave-assistant", tokens=(50, 5), fail=True)
    _run_agent(tracer, agent_id="3f1c2a8e-9b7d-4e4f-8a51-0c2d9e6b7a10", agent_name="Ticket triager")
    _run_agent(tracer, agent_id="a5d0e2c4-1111-4b2a-9c3d-5e6f7a8b9c0d", agent_name="Ticket triager")
    provider.force_flush()
    provider.shutdown()
    # then the registered agent's invocations, errors, tool calls and child tokens landed on it
    usage = DailyUsage.objects.get(agent=agent, environment="production")
    assert (usage.invocations, usage.errors, usage.tool_calls) == (2, 1, 2)
    assert (usage.input_tokens, usage.output_tokens) == (100 + 7 + 50 + 7, 20 + 3 + 5 + 3)
    # and the framework's random ids are one identity, known by name and service
    identities = dict(Sighting.objects.values_list("identity", "agent__key"))
    assert identities == {"hr.leave-assistant": "hr.leave-assistant", "Ticket triager@hr-portal": None}
    triager = Sighting.objects.get(identity="Ticket triager@hr-portal")
    assert triager.event_count == 8
    assert triager.service_name == "hr-portal"


def _json_export(spans, *, service="claims-api", environment="staging"):
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": service}},
                        {"key": "deployment.environment", "value": {"stringValue": environment}},
                    ]
                },
                "scopeSpans": [{"scope": {"name": "agents"}, "spans": spans}],
            }
        ]
    }


def _span(span_id, name, attrs, *, parent="", trace="5b8efff798038103d269b633813fc60c", status=0):
    now_ns = time.time_ns()
    return {
        "traceId": trace,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "startTimeUnixNano": str(now_ns - 2_000_000_000),
        "endTimeUnixNano": str(now_ns - 1_000_000_000),
        "attributes": [
            {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
            for k, v in attrs.items()
        ],
        "status": {"code": status},
    }


@pytest.mark.django_db(transaction=True)
def test_otlp_json_from_a_live_server(live_server, make_agent, source_with_token):
    import urllib.request

    # given
    agent = make_agent("claims.assessor", name="Claims assessor")
    _source, token = source_with_token
    body = _json_export(
        [
            _span(
                "eee19b7ec3c1b174",
                "invoke_agent",
                {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "claims.assessor"},
            ),
            _span(
                "eee19b7ec3c1b175",
                "chat",
                {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 2},
                parent="eee19b7ec3c1b174",
            ),
            _span(
                "eee19b7ec3c1b176",
                "execute_tool",
                {"gen_ai.operation.name": "execute_tool"},
                parent="eee19b7ec3c1b174",
                status=2,
            ),
            _span("eee19b7ec3c1b177", "GET /health", {"http.method": "GET"}),
        ]
    )
    request = urllib.request.Request(  # noqa: S310 (the test's own live server)
        f"{live_server.url}/v1/traces",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    # when
    with urllib.request.urlopen(request) as response:  # noqa: S310
        status, answer = response.status, json.loads(response.read())
    # then
    assert status == 200
    assert answer == {}
    usage = DailyUsage.objects.get(agent=agent, environment="staging")
    assert (usage.invocations, usage.tool_calls, usage.errors, usage.input_tokens, usage.output_tokens) == (
        1,
        1,
        1,
        40,
        2,
    )
    assert TelemetryEvent.objects.count() == 3  # the HTTP span is not an agent's


@pytest.fixture
def post_otlp(ingest_token):
    client = Client()

    def post(body: bytes, content_type="application/x-protobuf", token=ingest_token, **headers):
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return client.post("/v1/traces", data=body, content_type=content_type, headers={**auth, **headers})

    return post


def test_a_resent_export_is_counted_once(db, post_otlp, make_agent):
    agent = make_agent("claims.assessor")
    body = json.dumps(
        _json_export(
            [
                _span(
                    "aaa19b7ec3c1b174",
                    "invoke_agent",
                    {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": "claims.assessor"},
                )
            ]
        )
    ).encode()
    assert post_otlp(body, content_type="application/json").status_code == 200
    assert (
        post_otlp(gzip.compress(body), content_type="application/json", **{"Content-Encoding": "gzip"}).status_code
        == 200
    )
    assert DailyUsage.objects.get(agent=agent).invocations == 1


def test_it_reports_rejected_spans_as_partial_success(db, post_otlp, source):
    body = _json_export(
        [
            _span(
                "bbb19b7ec3c1b174",
                "invoke_agent",
                {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": "ok.agent"},
            ),
            _span("bbb19b7ec3c1b175", "invoke_agent", {"gen_ai.operation.name": "invoke_agent"}),
        ],
        environment="moon",
    )
    response = post_otlp(json.dumps(body).encode(), content_type="application/json")
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    # the unknown label refuses nothing: only the span without identity is rejected
    assert partial["rejectedSpans"] == "1"
    assert "no stable agent identity" in partial["errorMessage"]
    stored = TelemetryEvent.objects.get()
    assert (stored.identity, stored.environment, stored.environment_label) == ("ok.agent", "unspecified", "moon")
    # and the refusal is counted for the source, with the span in full
    day = IngestDay.objects.filter(source=source).totals()
    assert [(d["received"], d["rejected"]) for d in day] == [(2, 1)]
    item = RejectedItem.objects.get(source=source)
    assert (item.reason, item.payload["span_id"]) == ("no_identity", "bbb19b7ec3c1b175")


def test_protobuf_partial_success_is_protobuf(db, post_otlp):
    request = trace_service_pb2.ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    span = rs.scope_spans.add().spans.add()
    span.name = "invoke_agent"
    span.trace_id = bytes(16)
    span.span_id = bytes(8)
    kv = span.attributes.add()
    kv.key, kv.value.string_value = "gen_ai.operation.name", "invoke_agent"
    response = post_otlp(request.SerializeToString())
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-protobuf"
    answer = trace_service_pb2.ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"\xff\xff\xff garbage", "application/x-protobuf", 400),
        (b"{not json", "application/json", 400),
        (b"[]", "application/json", 400),
        (b"hello", "text/plain", 415),
    ],
)
def test_it_refuses_malformed_exports(db, post_otlp, body, content_type, status):
    response = post_otlp(body, content_type=content_type)
    assert response.status_code == status
    assert TelemetryEvent.objects.count() == 0


def test_it_refuses_exports_without_a_token_or_too_large(db, post_otlp, settings):
    assert post_otlp(b"", token=None).status_code == 401
    settings.TELEMETRY_MAX_BODY_BYTES = 100
    assert post_otlp(b"x" * 200).status_code == 413


def test_a_refused_span_keeps_no_message_content_and_a_nul_or_an_absurd_number_is_no_500(db, post_otlp, source):
    # given an export with a span without identity that carries the conversation, a span naming a tool
    # with a NUL in it, and flags too large for any integer
    refused = _span(
        "ccc19b7ec3c1b175",
        "invoke_agent",
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.input.messages": "SECRET patient record"},
    )
    tool = _span(
        "ccc19b7ec3c1b176",
        "execute_tool",
        {"gen_ai.operation.name": "execute_tool", "gen_ai.agent.id": "ok.agent", "gen_ai.tool.name": "look\x00up"},
    )
    tool["flags"] = 1e400
    body = json.dumps(_json_export([refused, tool])).replace("Infinity", "1e400").encode()
    response = post_otlp(body, content_type="application/json")
    # then the export is answered, the tool call stored under its name without the NUL
    assert response.status_code == 200
    assert TelemetryEvent.objects.get().identity == "ok.agent"
    # and the refused span is kept for the source page without what the agent was told
    item = RejectedItem.objects.get(source=source)
    assert item.payload["attributes"]["gen_ai.input.messages"] == "(content not kept)"
    assert "SECRET" not in json.dumps(item.payload)


def test_a_child_span_without_ids_whose_agent_is_elsewhere_is_counted_as_refused(db, post_otlp, source):
    orphan = _span("", "chat gpt-5", {"gen_ai.operation.name": "chat"}, parent="ddd19b7ec3c1b170")
    response = post_otlp(json.dumps(_json_export([orphan])).encode(), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert [(d["received"], d["rejected"]) for d in IngestDay.objects.filter(source=source).totals()] == [(1, 1)]
    assert RejectedItem.objects.get(source=source).reason == "invalid_field"
