"""The tools and MCP servers an unregistered agent was seen calling: kept per identity at ingest (in the same
round trip as the other rollups), shown on the claim form and asked for on the claimed agent's first version."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registry import services as registry_services
from registry.models import Agent, AgentVersionTool, McpServer
from telemetry import services
from telemetry.models import Sighting, ToolUse, UnregisteredToolUse
from tests.telemetry.test_genai_conventions import _agent_run, _mcp_call, _provider, _send

HR_MCP = "mcp.hr.example.com"
IDENTITY = "leave-bot-7"


@pytest.fixture
def approved_hr_tools(admin, unit):
    """An approved MCP server with a read tool and a write tool, and a catalog tool without MCP."""
    server = McpServer.objects.create(
        approved_at=timezone.now(),
        key="hr.mcp",
        name="HR MCP",
        url=f"https://{HR_MCP}/mcp",
        host=HR_MCP,
        owner=admin,
        business_unit=unit,
    )

    def mcp_tool(key, name, mcp_name, **flags):
        return registry_services.create_tool(
            actor=admin,
            key=key,
            name=name,
            mcp_server=server,
            mcp_name=mcp_name,
            mcp_approved_at=timezone.now(),
            **flags,
        )

    read = mcp_tool("hr.leave-balance", "Leave balance", "leave_balance")
    write = mcp_tool("hr.book-leave", "Book leave", "book_leave", supports_write=True)
    return server, read, write


def claim_form(unit, owner, **overrides) -> dict:
    data = {
        "identity": IDENTITY,
        "key": "hr.leave-bot",
        "name": "Leave bot",
        "owner": owner.pk,
        "business_unit": unit.pk,
        "objective": "Answers leave questions and books leave.",
        "pattern": "workplace_services",
        "autonomy_level": 2,
        "data_classification": "confidential",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db(transaction=True)
def test_an_unregistered_agents_mcp_tools_show_on_the_claim_form_and_the_claim_asks_for_them(
    live_server, source_with_token, approved_hr_tools, client_for, board, owner, unit
):
    # given an agent nobody registered, calling two MCP tools of an approved server (one twice) and a
    # tool the catalog does not know, exported with the OpenTelemetry SDK
    server, read, write = approved_hr_tools
    _source, token = source_with_token
    provider = _provider(live_server.url, token)
    tracer = provider.get_tracer("mcp-client")

    def body(t):
        _mcp_call(t, "leave_balance")
        _mcp_call(t, "leave_balance")
        _mcp_call(t, "book_leave")
        _mcp_call(t, "payslip_pdf", server="mcp.payroll.example.com")

    _agent_run(tracer, {"gen_ai.agent.id": IDENTITY, "gen_ai.agent.name": "Leave bot"}, body)
    _send(provider)

    # then its tool use is kept per identity (and none under a registered agent)
    assert Sighting.objects.get().agent is None
    kept = {(r.tool_name, r.server_address): r.calls for r in UnregisteredToolUse.objects.filter(identity=IDENTITY)}
    assert kept == {
        ("leave_balance", HR_MCP): 2,
        ("book_leave", HR_MCP): 1,
        ("payslip_pdf", "mcp.payroll.example.com"): 1,
    }
    assert not ToolUse.objects.exists()

    # when the board opens the claim form from the triage
    client = client_for(board)
    response = client.get("/telemetry/unknown-agents/register/", {"identity": IDENTITY})

    # then it shows the tools and the MCP servers seen, and offers the grantable catalog tools, ticked
    page = response.content.decode()
    assert response.status_code == 200
    assert "Tools seen" in page
    assert "MCP servers seen" in page
    for shown in ("leave_balance", "book_leave", "payslip_pdf", HR_MCP, "HR MCP", "mcp.payroll.example.com"):
        assert shown in page
    assert "not registered" in page  # the payroll server
    assert "not in the tool catalog" in page  # payslip_pdf
    form = response.context["form"]
    assert set(form.fields["tools"].queryset) == {read, write}
    assert set(form["tools"].value()) == {read.pk, write.pk}

    # when the board claims it, keeping both tools and naming the model
    response = client.post(
        "/telemetry/unknown-agents/register/",
        claim_form(unit, owner, tools=[read.pk, write.pk], model_provider="openai", model_name="gpt-4.1"),
    )

    # then the agent exists, with a first version asking for both tools at their catalog access
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    agent = Agent.objects.get(key="hr.leave-bot")
    [version] = agent.versions.all()
    assert (version.label, version.model_provider, version.model_name) == ("0.1.0", "openai", "gpt-4.1")
    grants = dict(AgentVersionTool.objects.filter(version=version).values_list("tool__key", "access"))
    assert grants == {"hr.leave-balance": "read", "hr.book-leave": "write"}
    assert "leave_balance on mcp.hr.example.com" in version.change_summary
    # and the page of the agent names the first version as done on its checklist
    assert (
        'data-item="version"><span class="badge green">done'
        in client_for(owner).get(f"/agents/{agent.key}/").content.decode()
    )


@pytest.fixture
def seen_calling(source, approved_hr_tools):
    """The unregistered identity seen calling both HR tools through the JSON batch path."""
    from telemetry.identity import identify
    from telemetry.ingest import Event, store_events

    who = identify(IDENTITY, "Leave bot", "hr-portal")
    now = timezone.now()
    store_events(
        source.pk,
        [
            Event(identity=who, environment="production", kind="tool_call", occurred_at=now, **tool)
            for tool in (
                {"tool_name": "leave_balance", "tool_server": HR_MCP},
                {"tool_name": "book_leave", "tool_server": HR_MCP},
            )
        ],
    )
    return approved_hr_tools


def test_an_unticked_tool_is_not_asked_for(client_for, board, owner, unit, seen_calling):
    _server, read, _write = seen_calling

    response = client_for(board).post(
        "/telemetry/unknown-agents/register/",
        claim_form(unit, owner, tools=[read.pk], model_provider="openai", model_name="gpt-4.1"),
    )

    assert response.status_code == 302
    grants = AgentVersionTool.objects.filter(version__agent__key="hr.leave-bot").values_list("tool__key", flat=True)
    assert list(grants) == ["hr.leave-balance"]


def test_unticking_every_tool_registers_the_agent_without_a_version(client_for, board, owner, unit, seen_calling):
    response = client_for(board).post("/telemetry/unknown-agents/register/", claim_form(unit, owner))

    assert response.status_code == 302
    assert not Agent.objects.get(key="hr.leave-bot").versions.exists()


def test_tools_asked_for_need_the_model_of_the_first_version(client_for, board, owner, unit, seen_calling):
    _server, read, _write = seen_calling

    response = client_for(board).post("/telemetry/unknown-agents/register/", claim_form(unit, owner, tools=[read.pk]))

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"model_provider", "model_name"}
    assert not Agent.objects.filter(key="hr.leave-bot").exists()


def test_the_service_refuses_a_tool_telemetry_did_not_see(board, owner, unit, seen_calling, admin):
    other = registry_services.create_tool(actor=admin, key="hr.other", name="Other")
    fields = {k: v for k, v in claim_form(unit, owner).items() if k not in ("identity", "owner")}

    with pytest.raises(ValidationError, match="did not see leave-bot-7 call hr.other"):
        services.claim_shadow_agent(
            IDENTITY,
            actor=board,
            owner=owner,
            tools=[other],
            model_provider="openai",
            model_name="gpt-4.1",
            **fields | {"business_unit": unit},
        )
    assert not Agent.objects.filter(key="hr.leave-bot").exists()


def test_a_tool_of_a_server_awaiting_approval_is_shown_but_not_offered(client_for, board, seen_calling):
    server, _read, _write = seen_calling
    McpServer.objects.filter(pk=server.pk).update(approved_at=None)

    response = client_for(board).get("/telemetry/unknown-agents/register/", {"identity": IDENTITY})

    assert "tools" not in response.context["form"].fields
    assert "awaits governance board approval" in response.content.decode()


def test_rows_go_with_the_raw_events_retention(source, settings):
    from telemetry.identity import identify
    from telemetry.ingest import Event, store_events

    settings.TELEMETRY_RETENTION_DAYS = 30
    who = identify(IDENTITY, "Leave bot", "hr-portal")
    start = timezone.now()
    store_events(
        source.pk,
        [Event(identity=who, environment="production", kind="tool_call", occurred_at=start, tool_name="old_tool")],
        now=start,
    )
    with time_machine.travel(start + timedelta(days=20), tick=False):
        later = timezone.now()
        store_events(
            source.pk,
            [Event(identity=who, environment="production", kind="tool_call", occurred_at=later, tool_name="new_tool")],
            now=later,
        )

    services.purge_old_events(now=start + timedelta(days=31))

    assert list(UnregisteredToolUse.objects.values_list("tool_name", flat=True)) == ["new_tool"]


def _batch(identities: int, tools: int) -> list[dict]:
    return [
        {
            "agent": f"unknown-{i}",
            "environment": "production",
            "timestamp": (timezone.now() - timedelta(minutes=1)).isoformat(),
            "kind": "tool_call",
            "tool": f"tool_{j}",
            "mcp_server": f"mcp-{j % 3}.example.com",
        }
        for i in range(identities)
        for j in range(tools)
    ]


def test_ingest_keeps_a_constant_number_of_queries_however_many_unknown_tool_calls(ingest):
    # given a first batch so every per-source row exists
    assert ingest(_batch(1, 1)).status_code == 200
    # when one unknown identity's single call, then 12 identities calling 8 tools each, are sent
    with CaptureQueriesContext(connection) as one:
        assert ingest(_batch(1, 1)).status_code == 200
    with CaptureQueriesContext(connection) as many:
        assert ingest(_batch(12, 8)).json()["accepted"] == 96
    # then both take the same number of queries, and every (identity, tool, server) is kept
    assert len(many.captured_queries) == len(one.captured_queries)
    assert UnregisteredToolUse.objects.count() == 96
    assert UnregisteredToolUse.objects.get(identity="unknown-0", tool_name="tool_0").calls == 3
