"""The ungranted-tool-use check: tools seen in telemetry against the tools the running version grants."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from governance import checks
from governance.models import Finding
from registry import services as registry_services
from registry.models import Agent, McpServer
from telemetry.models import DailyToolUsage, ToolUse

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def called(agent, tool, server="", *, at=NOW - timedelta(hours=1), calls=1):
    """What ingest writes for a tool call: the day's row and the tool's last call."""
    DailyToolUsage.objects.create(
        agent=agent, day=at.date(), tool_name=tool, server_address=server, calls=calls, last_called_at=at
    )
    return ToolUse.objects.create(
        agent=agent, tool_name=tool, server_address=server, calls=calls, first_called_at=at, last_called_at=at
    )


def open_finding(agent):
    checks.run_check("ungranted_tool_use", now=NOW)
    return Finding.objects.open().filter(kind="ungranted_tool_use", agent=agent).first()


@pytest.fixture
def catalog(admin, unit):
    server = McpServer.objects.create(
        approved_at=timezone.now(),
        key="fin.mcp",
        name="Finance MCP",
        url="https://mcp.fin.example/mcp",
        host="mcp.fin.example",
        owner=admin,
        business_unit=unit,
    )
    other = McpServer.objects.create(
        approved_at=timezone.now(),
        key="other.mcp",
        name="Other MCP",
        url="https://mcp.other.example/mcp",
        host="mcp.other.example",
        owner=admin,
        business_unit=unit,
    )
    return {
        "read": registry_services.create_tool(actor=admin, key="fin.read-ledger", name="Read ledger"),
        "write": registry_services.create_tool(
            actor=admin, key="fin.post-journal", name="Post journal", supports_write=True
        ),
        "execute": registry_services.create_tool(
            actor=admin,
            key="fin.pay",
            name="Pay supplier",
            supports_write=True,
            supports_execute=True,
            mcp_server=server,
            mcp_name="pay",
            mcp_approved_at=timezone.now(),
        ),
        "other_pay": registry_services.create_tool(
            actor=admin,
            key="other.pay",
            name="Other pay",
            mcp_server=other,
            mcp_name="pay",
            mcp_approved_at=timezone.now(),
        ),
    }


@pytest.mark.parametrize(
    ("tier", "tool", "severity"),
    [
        ("low", "read", "low"),
        ("low", "write", "low"),
        ("medium", "read", "low"),
        ("medium", "execute", "high"),
        ("high", "write", "high"),
        ("high", "execute", "critical"),
        ("critical", "read", "high"),
        ("critical", "execute", "critical"),
        ("", "unknown", "medium"),  # unassessed: medium; a tool unknown to the catalog counts as write
        ("high", "unknown", "high"),
    ],
)
def test_severity_rises_with_the_tier_and_the_tools_access(frozen, agent, catalog, tier, tool, severity):
    # given
    Agent.objects.filter(pk=agent.pk).update(risk_tier=tier)
    if tool == "execute":
        called(agent, "pay", "mcp.fin.example")
    elif tool == "unknown":
        called(agent, "mystery_tool")
    else:
        called(agent, catalog[tool].key)
    # when
    finding = open_finding(agent)
    # then
    assert finding.severity == severity


def test_telemetry_names_match_catalog_tools_by_key_name_or_mcp_name_on_the_same_server(
    frozen, agent, owner, catalog, approve_release
):
    # given a released version granting the read tool, the write tool and the finance server's pay tool
    version = registry_services.create_version(
        agent,
        actor=owner,
        label="2.0.0",
        model_provider="acme",
        model_name="m1",
        tools=[(catalog["read"], "read"), (catalog["write"], "write"), (catalog["execute"], "execute")],
    )
    approve_release(agent, version, "staging")
    called(agent, "fin.read-ledger")  # by key
    called(agent, "Post journal")  # by name
    called(agent, "pay", "MCP.FIN.EXAMPLE")  # by MCP name on the server with that host
    assert open_finding(agent) is None
    # when the same MCP name is called on another server (whose tool is not granted)
    called(agent, "pay", "mcp.other.example")
    # then
    finding = open_finding(agent)
    assert finding.details["tools"] == [
        {
            "tool": "pay",
            "server": "mcp.other.example",
            "catalog_tool": "other.pay",
            "access": "read",
            "server_registered": True,
            "server_granted": False,
        }
    ]
    assert finding.summary == (
        "Leave assistant called tools its released version 2.0.0 does not grant: "
        "pay on mcp.other.example (no tool of this server granted)."
    )


def test_the_production_release_is_the_one_compared_even_when_a_later_staging_release_grants_the_tool(
    frozen, agent, owner, catalog, gate_ready, version, approve_release
):
    # given version 1.0.0 (no tools) released to production, and 1.1.0 granting the tool only in staging
    newer = registry_services.create_version(
        agent,
        actor=owner,
        label="1.1.0",
        model_provider="acme",
        model_name="m1",
        tools=[(catalog["write"], "write")],
    )
    approve_release(agent, newer, "staging")
    called(agent, "fin.post-journal")
    # when / then production still runs 1.0.0
    finding = open_finding(agent)
    assert "released version 1.0.0" in finding.summary
    # when 1.1.0 is released to production
    approve_release(agent, newer, "production")
    # then
    assert open_finding(agent) is None
    assert Finding.objects.get(kind="ungranted_tool_use").resolved_at == NOW


def test_a_never_released_agent_is_compared_with_its_newest_version(frozen, agent, owner, catalog):
    registry_services.create_version(
        agent, actor=owner, label="0.1.0", model_provider="acme", model_name="m1", tools=[(catalog["read"], "read")]
    )
    called(agent, "fin.read-ledger")
    called(agent, "fin.post-journal")
    finding = open_finding(agent)
    assert [t["tool"] for t in finding.details["tools"]] == ["fin.post-journal"]
    assert "its version 0.1.0 (never released)" in finding.summary
    assert finding.details["released"] is False


def test_calls_older_than_seven_days_no_longer_count(frozen, agent, catalog):
    row = called(agent, "mystery_tool", at=NOW - timedelta(days=7, minutes=1))
    assert open_finding(agent) is None
    ToolUse.objects.filter(pk=row.pk).update(last_called_at=NOW - timedelta(days=6, hours=23))
    assert open_finding(agent) is not None


def test_a_steady_sweep_changes_nothing_and_reads_a_constant_number_of_queries(
    frozen, make_agent, catalog, django_assert_max_num_queries
):
    # given
    for n in range(5):
        a = make_agent(f"fin.agent-{n}", name=f"Finance agent {n}")
        called(a, "mystery_tool")
        called(a, "pay", "mcp.fin.example")
    first = checks.run_check("ungranted_tool_use", now=NOW)
    assert (first.found, first.still_open) == (5, 5)
    # when / then: the detection reads usage, agents, releases, versions, grants, tools and servers
    with django_assert_max_num_queries(8):
        checks.ungranted_tool_use(NOW)
    again = checks.run_check("ungranted_tool_use", now=NOW)
    assert (again.found, again.resolved, again.still_open) == (0, 0, 5)


def test_the_owner_is_told_by_mail_and_the_findings_api_filters_by_the_kind(frozen, agent, owner, client, mailoutbox):
    from governance import notifications

    # given
    called(agent, "mystery_tool")
    checks.run_check("ungranted_tool_use", now=NOW)
    # when
    sent = notifications.notify_owners(now=NOW)
    # then
    assert sent == 1
    [mail] = mailoutbox
    assert mail.to == [owner.email]
    assert mail.subject == "[Agent Registry] Ungranted tool use: Leave assistant"
    assert "mystery_tool" in mail.body
    client.force_login(owner)
    listed = client.get("/api/v1/findings/", {"kind": "ungranted_tool_use"}).json()
    assert [(f["kind"], f["severity"]) for f in listed["results"]] == [("ungranted_tool_use", "medium")]
    assert client.get("/api/v1/findings/", {"kind": "shadow_agent"}).json()["results"] == []
