"""Every rule of a runtime decision, allowed and refused, with its reason (docs/policy.md)."""

import pytest
from django.utils import timezone

from registry import services as registry_services
from registry.models import McpServer
from runtime import services as runtime_services
from telemetry.models import IdentityAlias
from tests.factories import ToolFactory
from tests.runtime.fixtures import ask

pytestmark = pytest.mark.django_db


def set_facts(agent, **fields):
    """Change agent facts without the governance reactions (raising autonomy sends a production agent
    back to review: tested in tests/governance); the save moves the decision version as a service's would."""
    from registry.choices import mode_for_autonomy
    from registry.models import Agent

    if "autonomy_level" in fields:
        fields["mode"] = mode_for_autonomy(fields["autonomy_level"])
    Agent.objects.filter(pk=agent.pk).update(**fields)
    agent.refresh_from_db()
    agent.save()


def reason(response):
    body = response.json()
    return body["decision"], body["context"]["reason_code"]


def tool_ask(agent_key, tool_key, action="read", **context):
    context.setdefault("environment", "production")
    return ask(agent_key, action, {"type": "tool", "id": tool_key}, **context)


# --- Subject resolution -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "hr.leave-assistant",
        "urn:acme:agents:hr.leave-assistant",
        "arn:aws:bedrock:eu-west-1:123456789012:agent/hr.leave-assistant",
        "Leave bot@hr-portal",
    ],
)
def test_the_subject_may_be_a_key_a_prefixed_id_or_an_alias(decide, released, subject):
    IdentityAlias.objects.create(agent=released, identity="Leave bot@hr-portal")

    body = decide(ask(subject)).json()

    assert body["decision"] is True
    assert body["context"]["agent"] == "hr.leave-assistant"


def test_an_unknown_subject_is_unregistered_and_a_random_uuid_never_matches(decide, released):
    assert reason(decide(ask("hr.someone-else"))) == (False, "unregistered")
    assert reason(decide(ask("3f2b8c4e-1d2a-4c5b-9e8f-0a1b2c3d4e5f"))) == (False, "unregistered")


# --- Lifecycle and environment ----------------------------------------------------------------------


def test_production_needs_the_production_lifecycle_and_a_release_there(decide, agent, put_in, owner):
    version = registry_services.create_version(agent, actor=owner, label="1.0", model_provider="x", model_name="y")
    put_in(agent, "production")  # no release to production
    assert reason(decide(ask(agent.key, environment="production"))) == (False, "not_in_environment")
    put_in(agent, "pilot", version)  # released, but only piloting
    assert reason(decide(ask(agent.key, environment="production"))) == (False, "not_in_environment")
    put_in(agent, "production")
    assert reason(decide(ask(agent.key, environment="production"))) == (True, "allowed")


@pytest.mark.parametrize(
    ("lifecycle", "staging", "development"),
    [
        ("proposed", False, True),
        ("approved", False, True),
        ("pilot", True, True),
        ("production", True, True),
        ("suspended", False, True),
    ],
)
def test_pilot_allows_staging_and_development_anything_before_retirement(
    decide, agent, put_in, lifecycle, staging, development
):
    put_in(agent, lifecycle)

    assert decide(ask(agent.key, environment="staging")).json()["decision"] is staging
    assert decide(ask(agent.key, environment="pilot")).json()["decision"] is staging
    assert decide(ask(agent.key, environment="development")).json()["decision"] is development


def test_a_retired_agent_is_refused_everywhere(decide, agent, put_in):
    put_in(agent, "retired")
    for env in ("development", "staging", "production"):
        assert reason(decide(ask(agent.key, environment=env))) == (False, "retired")


# --- Tools ------------------------------------------------------------------------------------------


def test_a_tool_must_be_granted_in_the_version_released_to_that_environment(
    decide, released, owner, tool, write_tool, put_in
):
    # given a newer version, granting a third tool, released to staging only
    extra = ToolFactory(key="slack.post", name="Slack post", supports_write=True)
    newer = registry_services.create_version(
        released,
        actor=owner,
        tools=[(tool, "read"), (extra, "write")],
        label="2.0.0",
        model_provider="openai",
        model_name="gpt-5",
    )
    put_in(released, "production", newer, environment="staging")

    # then production answers from 1.0.0, staging from 2.0.0
    assert reason(decide(tool_ask(released.key, "slack.post", "write"))) == (False, "tool_not_granted")
    assert reason(decide(tool_ask(released.key, "slack.post", "write", environment="staging"))) == (True, "allowed")
    assert reason(decide(tool_ask(released.key, write_tool.key, "write", environment="staging"))) == (
        False,
        "tool_not_granted",
    )


def test_the_tool_may_be_named_by_key_or_name_in_the_resource_or_the_action(decide, released, tool):
    assert decide(tool_ask(released.key, tool.key)).json()["decision"] is True
    assert decide(tool_ask(released.key, tool.name)).json()["decision"] is True
    by_action = ask(released.key, tool.key, {"type": "agent", "id": released.key}, environment="production")
    by_action["action"]["properties"] = {"access": "read"}
    assert decide(by_action).json()["decision"] is True


def test_access_read_below_write_below_execute(decide, released, tool, write_tool):
    assert reason(decide(tool_ask(released.key, tool.key, "read"))) == (True, "allowed")
    assert reason(decide(tool_ask(released.key, tool.key, "write"))) == (False, "access_exceeded")
    assert reason(decide(tool_ask(released.key, write_tool.key, "read"))) == (True, "allowed")
    assert reason(decide(tool_ask(released.key, write_tool.key, "write"))) == (True, "allowed")
    assert reason(decide(tool_ask(released.key, write_tool.key, "execute"))) == (False, "access_exceeded")


def test_without_a_stated_access_the_tool_s_widest_access_is_needed(decide, released, write_tool):
    body = ask(released.key, "call", {"type": "tool", "id": write_tool.key}, environment="production")
    assert reason(decide(body)) == (True, "allowed")  # granted write, the tool's widest


def test_mcp_tools_are_named_by_server_and_tool(decide, agent, owner, admin, put_in):
    server = McpServer.objects.create(
        approved_at=timezone.now(),
        key="github-mcp",
        name="GitHub MCP",
        url="https://mcp.github.example/mcp",
        host="mcp.github.example",
        owner=owner,
        business_unit=agent.business_unit,
    )
    issues = ToolFactory(
        key="github.create-issue",
        name="Create issue",
        supports_write=True,
        mcp_server=server,
        mcp_name="create_issue",
        mcp_approved_at=timezone.now(),
    )
    version = registry_services.create_version(
        agent, actor=owner, tools=[(issues, "write")], label="1", model_provider="x", model_name="y"
    )
    put_in(agent, "production", version)

    by_id = ask(agent.key, "call", {"type": "mcp_tool", "id": "github-mcp/create_issue"}, environment="production")
    by_props = ask(
        agent.key,
        "call",
        {"type": "mcp_tool", "id": "x", "properties": {"server": "mcp.github.example", "tool": "create_issue"}},
        environment="production",
    )
    unknown = ask(agent.key, "call", {"type": "mcp_tool", "id": "github-mcp/delete_repo"}, environment="production")

    assert reason(decide(by_id)) == (True, "allowed")
    assert reason(decide(by_props)) == (True, "allowed")
    assert reason(decide(unknown)) == (False, "tool_not_granted")


# --- Approval ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("autonomy", "context", "expected"),
    [
        (3, {"irreversible": True}, "approval_required"),
        (3, {"category": "financial"}, "approval_required"),
        (2, {"category": "legal"}, "approval_required"),
        (4, {"irreversible": True}, "allowed"),
        (4, {"category": "financial"}, "allowed"),
        (3, {"category": "routine"}, "allowed"),
    ],
)
def test_irreversible_financial_or_legal_actions_need_a_human_at_autonomy_3_or_below(
    decide, released, write_tool, autonomy, context, expected
):
    set_facts(released, autonomy_level=autonomy)

    body = decide(tool_ask(released.key, write_tool.key, "write", **context)).json()

    assert body["context"]["reason_code"] == expected
    if expected == "approval_required":
        assert body["decision"] is False
        assert body["context"]["approval"]["approver"]


def test_an_amount_over_the_agent_s_threshold_needs_a_human(decide, released, write_tool):
    set_facts(released, autonomy_level=5, approval_threshold="500.00")

    over = decide(tool_ask(released.key, write_tool.key, "write", amount=750)).json()
    under = decide(tool_ask(released.key, write_tool.key, "write", amount="499.99")).json()

    assert over["decision"] is False
    assert over["context"]["reason_code"] == "approval_required"
    assert over["context"]["approval"] == {"why": "amount", "threshold": 500.0, "amount": 750.0}
    assert under["decision"] is True


# --- Optional policy switches -------------------------------------------------------------------------


def test_open_critical_finding_denies_production_only_when_switched_on(decide, released, admin):
    from django.utils import timezone

    from governance.models import Finding

    Finding.objects.create(kind="drift", agent=released, severity="critical", summary="x", opened_at=timezone.now())
    assert reason(decide(ask(released.key))) == (True, "allowed")  # off by default

    runtime_services.update_runtime_policy(actor=admin, deny_open_critical_finding=True)

    assert reason(decide(ask(released.key))) == (False, "open_critical_finding")
    assert reason(decide(ask(released.key, environment="development"))) == (True, "allowed")


def test_lapsed_monitoring_denies_only_when_switched_on(decide, released, admin):
    from datetime import timedelta

    from django.utils import timezone

    from telemetry.models import MonitoringState

    MonitoringState.objects.update_or_create(
        agent=released, defaults={"deadline_at": timezone.now() - timedelta(hours=1)}
    )
    assert reason(decide(ask(released.key))) == (True, "allowed")

    runtime_services.update_runtime_policy(actor=admin, deny_monitoring_lapsed=True)

    assert reason(decide(ask(released.key))) == (False, "monitoring_lapsed")


def test_the_owner_sets_the_approval_threshold_through_the_api_and_it_applies_at_once(
    decide, api_for, owner, released, write_tool
):
    set_facts(released, autonomy_level=5)
    refused = api_for(owner).patch(f"/api/v1/agents/{released.key}/", {"approval_threshold": "-1"}, format="json")
    assert refused.status_code == 400
    assert "approval_threshold" in refused.json()

    response = api_for(owner).patch(f"/api/v1/agents/{released.key}/", {"approval_threshold": "250.00"}, format="json")

    assert response.status_code == 200
    assert reason(decide(tool_ask(released.key, write_tool.key, "write", amount=300))) == (False, "approval_required")
    assert reason(decide(tool_ask(released.key, write_tool.key, "write", amount=200))) == (True, "allowed")
