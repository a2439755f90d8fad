"""The Cedar export evaluated by the Cedar engine itself (cedarpy): the same decision as the API for every
agent × environment × tool of a generated portfolio, stops included."""

import re

import cedarpy
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import services as registry_services
from registry.models import McpServer
from runtime import cedar, snapshot
from runtime.engine import evaluate, parse
from tests.factories import BusinessUnitFactory, ToolFactory
from tests.runtime.fixtures import ask

pytestmark = pytest.mark.django_db

ACTIONS = ("run", "read", "write", "execute")


def cedar_decide(export, requests):
    results = cedarpy.is_authorized_batch(requests, export["policies"], export["entities"], schema=export["schema"])
    return [r.decision == cedarpy.Decision.Allow for r in results]


def test_the_export_is_a_valid_policy_set_for_its_schema(api_for, board, released, tool):
    response = api_for(board).get("/api/v1/policy/cedar/")

    assert response.status_code == 200
    export = response.json()
    validation = cedarpy.validate_policies(export["policies"], export["schema"])
    assert validation.validation_passed, validation.errors
    assert any(e["uid"] == {"type": "AgentRegistry::Agent", "id": released.key} for e in export["entities"])


def test_the_export_shows_only_the_agents_the_caller_may_see(api_for, board, service_account, released):
    def agent_ids(user):
        export = api_for(user).get("/api/v1/policy/cedar/").json()
        return [e["uid"]["id"] for e in export["entities"] if e["uid"]["type"] == "AgentRegistry::Agent"]

    assert agent_ids(board) == [released.key]
    assert agent_ids(service_account) == []  # a machine without a role sees no agent
    assert api_for(None).get("/api/v1/policy/cedar/").status_code == 401


def test_cedar_names_the_stop_that_refused(released, board, write_tool):
    stop = registry_services.start_stop("tool", write_tool, actor=board, reason="breach")
    export = cedar.export(snapshot.build())
    request = cedar.request_for(
        parse(ask(released.key, "write", {"type": "tool", "id": write_tool.key})), write_tool.key
    )

    result = cedarpy.is_authorized(request, export["policies"], export["entities"], schema=export["schema"])

    # cedarpy names policies by position ("policy16"); the export's @id annotations give their names.
    ids = [re.search(r'@id\("([^"]+)"\)', part).group(1) for part in export["policies"].strip().split("\n\n")]
    assert result.decision == cedarpy.Decision.Deny
    assert [ids[int(str(p).removeprefix("policy"))] for p in result.diagnostics.reasons] == [f"stop-{stop.pk}"]


# --- The parity property ------------------------------------------------------------------------------


@pytest.fixture
def portfolio(db, owner, board, put_in):
    """A small portfolio to generate variations on: three units, four tools (one on an MCP server), six agents."""
    root = BusinessUnitFactory(name="Root", slug="root")
    units = [BusinessUnitFactory(name=f"U{i}", slug=f"u{i}", parent=root) for i in range(2)]
    units.append(BusinessUnitFactory(name="U0a", slug="u0a", parent=units[0]))
    server = McpServer.objects.create(
        approved_at=timezone.now(),
        key="srv",
        name="Srv",
        url="https://srv.example/mcp",
        host="srv.example",
        owner=owner,
        business_unit=root,
    )
    tools = [
        ToolFactory(key="t.read", name="Reader"),
        ToolFactory(key="t.write", name="Writer", supports_write=True),
        ToolFactory(key="t.exec", name="Executor", supports_write=True, supports_execute=True),
        ToolFactory(
            key="t.mcp",
            name="Mcp tool",
            supports_write=True,
            mcp_server=server,
            mcp_name="do",
            mcp_approved_at=timezone.now(),
        ),
    ]
    return {
        "root": root,
        "units": units,
        "server": server,
        "tools": tools,
        "owner": owner,
        "board": board,
        "put_in": put_in,
    }


agent_spec = st.fixed_dictionaries(
    {
        "unit": st.integers(0, 2),
        "pattern": st.sampled_from(["employee_enablement", "core_process"]),
        "autonomy": st.integers(1, 5),
        "lifecycle": st.sampled_from(["proposed", "pilot", "production", "suspended", "retired"]),
        "release": st.sampled_from([None, "production", "staging"]),
        "grants": st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["read", "write", "execute"])), max_size=4),
        "threshold": st.sampled_from([None, 100, 1000]),
    }
)
stop_spec = st.lists(
    st.sampled_from(["agent0", "agent1", "unit0", "unit2", "root", "pattern", "tool1", "tool2", "server"]),
    max_size=3,
    unique=True,
)
ask_context = st.fixed_dictionaries(
    {
        "irreversible": st.booleans(),
        "category": st.sampled_from(["", "routine", "financial", "legal"]),
        "amount": st.sampled_from([None, 50, 500, 5000]),
    }
)


def _build(portfolio, specs, stops, critical):
    from django.utils import timezone

    from governance.models import Finding
    from runtime import services as runtime_services

    owner, board, tools = portfolio["owner"], portfolio["board"], portfolio["tools"]
    agents = []
    for i, spec in enumerate(specs):
        agent = registry_services.create_agent(
            actor=owner,
            key=f"gen.agent-{i}",
            name=f"Agent {i}",
            business_unit=portfolio["units"][spec["unit"]],
            pattern=spec["pattern"],
            autonomy_level=spec["autonomy"],
            topology="embedded",
            data_classification="internal",
            approval_threshold=spec["threshold"],
        )
        grants = {}
        for tool_index, access in spec["grants"]:
            tool = tools[tool_index]
            if (access == "execute" and not tool.supports_execute) or (access == "write" and not tool.supports_write):
                access = "read"
            grants[tool.pk] = (tool, access)
        version = registry_services.create_version(
            agent, actor=owner, tools=list(grants.values()), label="1", model_provider="x", model_name="y"
        )
        portfolio["put_in"](
            agent, spec["lifecycle"], version if spec["release"] else None, environment=spec["release"] or "production"
        )
        agents.append(agent)
    seen = set()
    for name in stops:
        target = {
            "agent0": ("agent", agents[0]),
            "agent1": ("agent", agents[1 % len(agents)]),
            "unit0": ("business_unit", portfolio["units"][0]),
            "unit2": ("business_unit", portfolio["units"][2]),
            "root": ("business_unit", portfolio["root"]),
            "pattern": ("pattern", "core_process"),
            "tool1": ("tool", tools[1]),
            "tool2": ("tool", tools[2]),
            "server": ("mcp_server", portfolio["server"]),
        }[name]
        if (target[0], str(target[1])) in seen:
            continue
        seen.add((target[0], str(target[1])))
        registry_services.start_stop(*target, actor=board, reason=f"stop {name}")
    if critical:
        Finding.objects.create(
            kind="drift", agent=agents[0], severity="critical", summary="x", opened_at=timezone.now()
        )
        runtime_services.update_runtime_policy(actor=_admin(), deny_open_critical_finding=True)
    return agents


def _admin():
    from registry.models import User

    return User.objects.get(username="adminparity")


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    specs=st.lists(agent_spec, min_size=1, max_size=4),
    stops=stop_spec,
    context=ask_context,
    critical=st.booleans(),
)
def test_every_agent_environment_and_tool_decides_the_same_in_cedar(portfolio, specs, stops, context, critical):
    from django.db import transaction

    from registry.roles import Role
    from tests.factories import UserFactory

    # Each example in its own savepoint, rolled back after: the portfolio fixture stays as it was.
    with transaction.atomic():
        admin = UserFactory(username="adminparity")
        registry_services.set_user_roles(admin, [Role.PLATFORM_ADMIN], actor=None)
        agents = _build(portfolio, specs, stops, critical)
        snapshot.reset()
        snap = snapshot.current()
        export = cedar.export(snap)
        asks, requests = [], []
        for agent in [*agents, None]:
            subject = agent.key if agent else "gen.unknown"
            for env in ("development", "staging", "production"):
                for action in ACTIONS:
                    tool_keys = [None] if action == "run" else [t.key for t in portfolio["tools"]] + ["t.unknown"]
                    for tool_key in tool_keys:
                        resource = (
                            {"type": "environment", "id": env} if tool_key is None else {"type": "tool", "id": tool_key}
                        )
                        body = ask(subject, action, resource, environment=env, irreversible=context["irreversible"])
                        if context["category"]:
                            body["context"]["category"] = context["category"]
                        if context["amount"] is not None:
                            body["context"]["amount"] = context["amount"]
                        parsed = parse(body)
                        asks.append(parsed)
                        requests.append(cedar.request_for(parsed, tool_key))
        engine = [evaluate(snap, a).allowed for a in asks]
        by_cedar = cedar_decide(export, requests)
        mismatches = [
            (a.subject, a.environment, a.action, a.resource_id, evaluate(snap, a).code)
            for a, e, c in zip(asks, engine, by_cedar, strict=True)
            if e != c
        ]
        transaction.set_rollback(True)
        assert mismatches == []
