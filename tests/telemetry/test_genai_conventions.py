"""Current GenAI conventions through the official OpenTelemetry SDK and OTLP/HTTP exporter against a live
server: MCP ``tools/call`` and ``execute_tool`` spans, evaluation results, provider ids through aliases and
the newer identity attributes. Each test checks the sightings, the usage per tool and the findings."""

from datetime import timedelta

import pytest
from django.utils import timezone
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from governance import checks
from governance.models import Finding
from registry import services as registry_services
from registry.models import McpServer
from telemetry import services as telemetry_services
from telemetry.models import DailyEvaluation, DailyToolUsage, DailyUsage, Sighting

ARN = "arn:aws:bedrock:eu-west-1:123456789012:agent/HRLEAVE01"
HR_MCP = "mcp.hr.example.com"


def _provider(endpoint: str, token: str, *, service="hr-portal", environment="production"):
    resource = Resource.create({"service.name": service, "deployment.environment.name": environment})
    provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers={"Authorization": f"Bearer {token}"})
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    return provider


def _send(provider) -> None:
    provider.force_flush()
    provider.shutdown()


def _agent_run(tracer, identity: dict, body, *, operation="invoke_agent"):
    with tracer.start_as_current_span(
        f"{operation} agent", attributes={"gen_ai.operation.name": operation, **identity}
    ) as span:
        body(tracer)
        return span


def _mcp_call(tracer, tool: str, *, server=HR_MCP, fail=False):
    """An MCP client span as the MCP semantic conventions describe it."""
    with tracer.start_as_current_span(
        f"tools/call {tool}",
        attributes={
            "mcp.method.name": "tools/call",
            "gen_ai.tool.name": tool,
            "server.address": server,
            "server.port": 443,
            "network.transport": "tcp",
        },
    ) as span:
        if fail:
            span.set_status(Status(StatusCode.ERROR, "tool error"))


def _execute_tool(tracer, tool: str):
    with tracer.start_as_current_span(
        f"execute_tool {tool}", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool}
    ):
        pass


def _findings(now=None):
    checks.run_check("ungranted_tool_use", now=now)
    return list(Finding.objects.filter(kind="ungranted_tool_use").order_by("id"))


@pytest.fixture
def hr_mcp(admin, unit):
    server = McpServer.objects.create(
        approved_at=timezone.now(),
        key="hr.mcp",
        name="HR MCP",
        url=f"https://{HR_MCP}/mcp",
        host=HR_MCP,
        owner=admin,
        business_unit=unit,
    )
    read = registry_services.create_tool(
        actor=admin,
        key="hr.leave-balance",
        name="Leave balance",
        mcp_server=server,
        mcp_name="leave_balance",
        mcp_approved_at=timezone.now(),
    )
    write = registry_services.create_tool(
        actor=admin,
        key="hr.book-leave",
        name="Book leave",
        mcp_server=server,
        mcp_name="book_leave",
        mcp_approved_at=timezone.now(),
        supports_write=True,
    )
    return server, read, write


@pytest.mark.django_db(transaction=True)
def test_mcp_tool_calls_are_recorded_per_tool_and_server_and_ungranted_ones_raise_a_finding(
    live_server, make_agent, source_with_token, hr_mcp, owner, approve_release
):
    # given an agent whose released version grants the leave balance only
    _server, read, _write = hr_mcp
    agent = make_agent("hr.leave-assistant", name="Leave assistant")
    v1 = registry_services.create_version(
        agent, actor=owner, label="1.0.0", model_provider="acme", model_name="m1", tools=[(read, "read")]
    )
    approve_release(agent, v1, "staging")
    _source, token = source_with_token
    provider = _provider(live_server.url, token)
    tracer = provider.get_tracer("mcp-client")

    # when it calls the granted tool twice and an ungranted write tool once (which fails), over MCP
    def body(t):
        _mcp_call(t, "leave_balance")
        _mcp_call(t, "leave_balance")
        _mcp_call(t, "book_leave", fail=True)

    _agent_run(tracer, {"gen_ai.agent.id": "hr.leave-assistant"}, body)
    _send(provider)

    # then the sighting, the daily usage and the usage per tool and server are stored
    assert Sighting.objects.get().agent == agent
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.invocations, usage.tool_calls, usage.errors) == (1, 3, 1)
    per_tool = {(r.tool_name, r.server_address): (r.calls, r.errors) for r in DailyToolUsage.objects.all()}
    assert per_tool == {("leave_balance", HR_MCP): (2, 0), ("book_leave", HR_MCP): (1, 1)}
    # and only the ungranted tool is a finding, medium (unassessed tier) for a write tool
    [finding] = _findings()
    assert finding.agent == agent
    assert finding.severity == "medium"
    assert "book_leave on mcp.hr.example.com" in finding.summary
    assert "released version 1.0.0" in finding.summary
    assert finding.details["tools"] == [
        {
            "tool": "book_leave",
            "server": HR_MCP,
            "catalog_tool": "hr.book-leave",
            "access": "write",
            "server_registered": True,
            "server_granted": True,
        }
    ]

    # when a version granting the tool is released, the finding resolves
    _server, read, write = hr_mcp
    v2 = registry_services.create_version(
        agent,
        actor=owner,
        label="1.1.0",
        model_provider="acme",
        model_name="m1",
        tools=[(read, "read"), (write, "write")],
    )
    approve_release(agent, v2, "staging")
    [finding] = _findings()
    assert finding.resolved_at is not None


@pytest.mark.django_db(transaction=True)
def test_execute_tool_spans_unknown_to_the_catalog_raise_a_finding_that_resolves_after_7_days_of_silence(
    live_server, make_agent, source_with_token
):
    # given an agent with no version at all, and a framework wrapping an MCP call in execute_tool
    agent = make_agent("claims.assessor", name="Claims assessor")
    _source, token = source_with_token
    provider = _provider(live_server.url, token, service="claims-api")
    tracer = provider.get_tracer("agent-framework")

    def body(t):
        _execute_tool(t, "web_search")
        with t.start_as_current_span("execute_tool fetch_policy", attributes={"gen_ai.operation.name": "execute_tool"}):
            _mcp_call(t, "fetch_policy", server="MCP.Claims.Example.com")

    # when
    _agent_run(tracer, {"gen_ai.agent.id": "claims.assessor"}, body)
    _send(provider)

    # then the framework's execute_tool around the MCP call is one call, on the MCP span's server
    assert DailyUsage.objects.get(agent=agent).tool_calls == 2
    per_tool = dict(DailyToolUsage.objects.values_list("tool_name", "server_address"))
    assert per_tool == {"web_search": "", "fetch_policy": "mcp.claims.example.com"}
    assert Sighting.objects.get().identity == "claims.assessor"
    # and both unknown tools (counted as write) are one finding; the server is not registered
    [finding] = _findings()
    assert finding.agent == agent
    assert "no version of it" in finding.summary
    by_tool = {t["tool"]: t for t in finding.details["tools"]}
    assert by_tool["web_search"]["access"] == "write"
    assert by_tool["fetch_policy"]["server_registered"] is False
    assert "fetch_policy on mcp.claims.example.com (an unregistered MCP server)" in finding.summary

    # when seven days pass without a call, it resolves
    [finding] = _findings(now=timezone.now() + timedelta(days=7, minutes=1))
    assert finding.resolved_at is not None


@pytest.mark.django_db(transaction=True)
def test_evaluation_results_as_span_events_and_attributes_are_kept_per_name(live_server, make_agent, source_with_token):
    # given
    agent = make_agent("hr.leave-assistant", name="Leave assistant")
    _source, token = source_with_token
    provider = _provider(live_server.url, token)
    tracer = provider.get_tracer("evaluator")

    def body(t):
        with t.start_as_current_span("chat gpt-5", attributes={"gen_ai.operation.name": "chat"}) as chat:
            chat.add_event(
                "gen_ai.evaluation.result",
                {
                    "gen_ai.evaluation.name": "relevance",
                    "gen_ai.evaluation.score.value": 0.9,
                    "gen_ai.evaluation.score.label": "relevant",
                },
            )
            chat.add_event(
                "gen_ai.evaluation.result",
                {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.5},
            )
            chat.add_event(
                "gen_ai.evaluation.result",
                {"gen_ai.evaluation.name": "groundedness", "gen_ai.evaluation.score.label": "grounded"},
            )
        # an evaluator's own span carrying the result as attributes
        with t.start_as_current_span(
            "evaluate relevance",
            attributes={"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.7},
        ):
            pass

    # when
    _agent_run(tracer, {"gen_ai.agent.id": "hr.leave-assistant"}, body)
    _send(provider)

    # then
    rows = {r.name: r for r in DailyEvaluation.objects.filter(agent=agent)}
    relevance = rows["relevance"]
    assert (relevance.results, relevance.scored, relevance.score_min, relevance.score_max) == (3, 3, 0.5, 0.9)
    assert relevance.mean_score == pytest.approx(0.7)
    grounded = rows["groundedness"]
    assert (grounded.results, grounded.scored, grounded.mean_score, grounded.last_label) == (1, 0, None, "grounded")
    # evaluations are not invocations nor tool calls
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.invocations, usage.tool_calls) == (1, 0)
    assert Sighting.objects.get().agent == agent
    assert not DailyToolUsage.objects.exists()
    assert _findings() == []


@pytest.mark.django_db(transaction=True)
def test_a_provider_arn_is_matched_through_an_alias_and_invoke_workflow_counts_as_an_invocation(
    live_server, make_agent, source_with_token, owner
):
    # given an agent claiming the platform's ARN through an alias
    agent = make_agent("hr.leave-assistant", name="Leave assistant")
    telemetry_services.link_identity(ARN, agent, actor=owner)
    _source, token = source_with_token
    provider = _provider(live_server.url, token, service="bedrock-agents")
    tracer = provider.get_tracer("bedrock")

    # when a workflow and an agent run report the ARN, one calling a tool
    _agent_run(tracer, {"gen_ai.agent.id": ARN}, lambda t: _execute_tool(t, "lookup"), operation="invoke_workflow")
    _agent_run(tracer, {"gen_ai.agent.id": ARN, "gen_ai.agent.name": "Leave bot"}, lambda t: None)
    _send(provider)

    # then the ARN is the sighting's identity, claimed by the agent; both runs are invocations
    sighting = Sighting.objects.get()
    assert (sighting.identity, sighting.agent) == (ARN, agent)
    usage = DailyUsage.objects.get(agent=agent)
    assert (usage.invocations, usage.tool_calls) == (2, 1)
    assert list(DailyToolUsage.objects.values_list("agent__key", "tool_name")) == [("hr.leave-assistant", "lookup")]
    # and the tool it has no grant for is a finding on the registered agent, not a shadow agent
    [finding] = _findings()
    assert finding.agent == agent
    checks.run_check("shadow_agent")
    assert not Finding.objects.filter(kind="shadow_agent").exists()


@pytest.mark.django_db(transaction=True)
def test_identity_attributes_win_over_agent_id_and_the_main_agent_names_unclaimed_spans(
    live_server, make_agent, source_with_token
):
    # given two registered agents: one known by its directory identity (a UUID, but provider-assigned)
    directory_id = "5f1c2a8e-9b7d-4e4f-8a51-0c2d9e6b7a10"
    triage = make_agent("it.ticket-triage", name="Ticket triage")
    make_agent("it.helpdesk", name="Helpdesk")
    telemetry_services.link_identity(directory_id, triage, actor=triage.owner)
    _source, token = source_with_token
    provider = _provider(live_server.url, token, service="it-portal")
    tracer = provider.get_tracer("multi-agent")

    # when a run names the directory identity beside a framework id, and a separate tool span names
    # only the main agent of the run
    _agent_run(
        tracer,
        {"gen_ai.agent.identity.id": directory_id, "gen_ai.agent.id": "it.helpdesk", "gen_ai.agent.name": "x"},
        lambda t: _execute_tool(t, "reset_password"),
    )
    with tracer.start_as_current_span(
        "execute_tool close_ticket",
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "close_ticket",
            "gen_ai.main_agent.id": "it.helpdesk",
            "gen_ai.main_agent.name": "Helpdesk",
        },
    ):
        pass
    _send(provider)

    # then the identity attribute won over gen_ai.agent.id, and the main agent took the orphan tool span
    identities = dict(Sighting.objects.values_list("identity", "agent__key"))
    assert identities == {directory_id: "it.ticket-triage", "it.helpdesk": "it.helpdesk"}
    tools = set(DailyToolUsage.objects.values_list("agent__key", "tool_name"))
    assert tools == {("it.ticket-triage", "reset_password"), ("it.helpdesk", "close_ticket")}
    assert {f.agent.key for f in _findings()} == {"it.ticket-triage", "it.helpdesk"}
