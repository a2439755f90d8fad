"""The registry's pages and API endpoints in the permission matrix (see tests/permission_matrix.py)."""

import json

from registry import services
from registry.choices import Lifecycle
from tests.permission_matrix import Route, statuses

# --- Shared expectations ------------------------------------------------------------
# Any signed-in person reads; a service account sees no agent (404) and anonymous
# visitors are sent to sign in (pages) or refused (API).
PAGE_READ = statuses(200, anonymous=302)
AGENT_PAGE_READ = statuses(200, service_account=404, anonymous=302)
# Owner, delegate and administrators change an agent; other people see it but may not (403).
AGENT_PAGE_CHANGE = statuses(403, owner=200, delegate=200, admin=200, service_account=404, anonymous=302)
AGENT_PAGE_CHANGE_POST = statuses(403, owner=302, delegate=302, admin=302, service_account=404, anonymous=302)
# Only the owner and administrators manage ownership and delegates.
AGENT_PAGE_MANAGE = statuses(403, owner=200, admin=200, service_account=404, anonymous=302)
AGENT_PAGE_MANAGE_POST = statuses(403, owner=302, admin=302, service_account=404, anonymous=302)

API_READ = statuses(200, anonymous=401)
API_AGENT_READ = statuses(200, service_account=404, anonymous=401)
API_AGENT_CHANGE = statuses(403, owner=200, delegate=200, admin=200, service_account=404, anonymous=401)
API_AGENT_MANAGE = statuses(403, owner=200, admin=200, service_account=404, anonymous=401)
API_ADMIN_CREATE = statuses(403, admin=201, anonymous=401)
# Reference data: every person reads it; a service account has no rows in scope.
API_CATALOG_DETAIL = statuses(200, service_account=404, anonymous=401)
API_ADMIN_CHANGE = statuses(403, admin=200, service_account=404, anonymous=401)


MATRIX_CARD = (
    '{"name": "Travel planner", "description": "Plans trips.", '
    '"supportedInterfaces": [{"url": "https://agents.example.com/travel", "protocolBinding": "JSONRPC"}], '
    '"skills": [{"id": "book", "name": "Book", "description": "Books trips", "tags": ["travel"]}]}'
)


def import_file(c, user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    owner = user if user is not None and user.is_person else c.owner
    text = (
        "key,name,owner,business_unit,objective,pattern,autonomy_level,data_classification\n"
        f"hr.imported,Imported,{owner.username},{c.unit.slug},Helps,employee_enablement,1,internal\n"
    )
    return SimpleUploadedFile("agents.csv", text.encode(), "text/csv")


def agent_key(c) -> dict:
    return {"key": c.agent.key}


def to_in_review(c) -> None:
    services.transition_agent(c.agent, Lifecycle.IN_REVIEW, actor=c.owner, reason="Ready for the board")


def agent_form(c, user, **overrides) -> dict:
    """Every field of the agent form as a browser would post it (unchecked boxes omitted)."""
    agent = c.agent
    data = {
        name: getattr(agent, name)
        for name in services.EDITABLE_AGENT_FIELDS
        if name != "business_unit" and getattr(agent, name) not in (None, False)
    }
    data["business_unit"] = agent.business_unit_id
    data["row_version"] = agent.row_version
    data.update(overrides)
    return data


def new_agent_form(c, user) -> dict:
    return {
        "key": "hr.onboarding-buddy",
        "name": "Onboarding buddy",
        "business_unit": c.unit.pk,
        "owner": (user or c.owner).pk,
        "pattern": "employee_enablement",
        "autonomy_level": 1,
        "topology": "embedded",
        "data_classification": "internal",
        "runs_in_development": "on",
    }


def new_agent_json(c, user) -> dict:
    return {
        "key": "hr.onboarding-buddy",
        "name": "Onboarding buddy",
        "business_unit": c.unit.slug,
        "pattern": "employee_enablement",
        "autonomy_level": 1,
        "topology": "embedded",
        "data_classification": "internal",
    }


def deprovisioned_owner_with_handover(c) -> None:
    """A leaver's agent proposed to ``employee`` (head of the unit)."""
    from tests.factories import UserFactory

    c.unit.head = c.employee
    c.unit.save(update_fields=["head"])
    leaver = UserFactory(username="lee.leaver", business_unit=c.unit)
    services.create_agent(
        actor=leaver,
        key="hr.leavers-agent",
        name="Leaver's agent",
        business_unit=c.unit,
        pattern="employee_enablement",
        autonomy_level=1,
        topology="embedded",
        data_classification="internal",
    )
    c.extra["proposal"] = services.deprovision_user(leaver)[0]


def agent_manifest(c, **overrides) -> dict:
    agent = c.agent
    data = {
        "apiVersion": "agent-registry/v1",
        "kind": "Agent",
        "key": agent.key,
        "name": agent.name,
        "owner": agent.owner.username,
        "business_unit": agent.business_unit.slug,
        "pattern": agent.pattern,
        "autonomy_level": agent.autonomy_level,
        "data_classification": agent.data_classification,
    }
    data.update(overrides)
    return data


def agent_json(c, user) -> dict:
    return {**new_agent_json(c, user), "key": c.agent.key, "name": "Leave assistant v2", "row_version": 1}


# SCIM answers to its own bearer tokens only: a signed-in session, of any role, is refused (401).
SCIM_ONLY = statuses(401)
SCIM_ID = {"scim_id": "00000000-0000-4000-8000-000000000000"}

ROUTES = [
    # --- SCIM provisioning (tests/registry/test_scim.py drives it with its token) ----------------
    Route("scim-users", "GET", SCIM_ONLY),
    Route("scim-users", "POST", SCIM_ONLY, data=lambda c, user: {"userName": "x"}),
    Route("scim-user", "GET", SCIM_ONLY, kwargs=lambda c: SCIM_ID),
    Route("scim-groups", "GET", SCIM_ONLY),
    Route("scim-group", "GET", SCIM_ONLY, kwargs=lambda c: SCIM_ID),
    Route("scim-config", "GET", SCIM_ONLY),
    Route("scim-resource-types", "GET", SCIM_ONLY),
    Route("scim-resource-type", "GET", SCIM_ONLY, kwargs=lambda c: {"name": "User"}),
    Route("scim-schemas", "GET", SCIM_ONLY),
    Route("scim-schema", "GET", SCIM_ONLY, kwargs=lambda c: {"schema_id": "x"}),
    # --- Sign-in and documentation ---------------------------------------------------
    Route("login", "GET", statuses(200)),
    Route("logout", "POST", statuses(302)),
    Route("api-schema", "GET", statuses(200)),
    Route("api-docs", "GET", statuses(200)),
    Route("admin:index", "GET", statuses(302, admin=200)),
    # --- Pages -------------------------------------------------------------------------
    Route("registry:home", "GET", PAGE_READ),
    # Everyone signed in is sent on to their role's page (tests/governance/test_landing.py says where).
    Route("registry:landing", "GET", statuses(302)),
    Route("registry:catalog", "GET", PAGE_READ),
    Route("registry:catalog", "GET", PAGE_READ, label="search", query={"search": "leave", "lifecycle": "proposed"}),
    Route("registry:people-search", "GET", PAGE_READ, query={"q": "er"}),
    Route("registry:profile", "GET", PAGE_READ),
    Route("registry:handovers", "GET", PAGE_READ),
    # --- Handovers API ------------------------------------------------------------------------------
    Route("api:handover-list", "GET", API_READ),
    Route(
        "api:handover-detail",
        "GET",
        statuses(404, employee=200, board=200, admin=200, anonymous=401),
        setup=deprovisioned_owner_with_handover,
        kwargs=lambda c: {"pk": c.extra["proposal"].pk},
    ),
    Route(
        "api:handover-accept",
        "POST",
        statuses(404, employee=200, board=403, admin=403, anonymous=401),
        setup=deprovisioned_owner_with_handover,
        kwargs=lambda c: {"pk": c.extra["proposal"].pk},
        data=lambda c, user: {},
        audit="handover.accepted",
    ),
    Route(
        "api:handover-decline",
        "POST",
        statuses(404, employee=200, board=403, admin=403, anonymous=401),
        setup=deprovisioned_owner_with_handover,
        kwargs=lambda c: {"pk": c.extra["proposal"].pk},
        data=lambda c, user: {"note": "Not my area"},
        audit="handover.declined",
    ),
    Route(
        "api:handover-reassign",
        "POST",
        statuses(404, employee=403, board=201, admin=201, anonymous=401),
        setup=deprovisioned_owner_with_handover,
        kwargs=lambda c: {"pk": c.extra["proposal"].pk},
        data=lambda c, user: {"proposed_to": c.outsider.username},
        audit="handover.reassigned",
    ),
    Route(
        "registry:handovers",
        "POST",
        statuses(404, employee=302, board=403, admin=403, anonymous=302),
        setup=deprovisioned_owner_with_handover,
        data=lambda c, user: {"proposal": c.extra["proposal"].pk, "action": "accept"},
        audit="handover.accepted",
    ),
    Route(
        "registry:profile",
        "POST",
        statuses(200, anonymous=302),
        data=lambda c, user: {"name": "laptop script"},
        audit="api_token.created",
    ),
    Route("registry:agent-create", "GET", statuses(200, service_account=403, anonymous=302)),
    Route(
        "registry:agent-create",
        "POST",
        statuses(302, service_account=403),
        data=new_agent_form,
        audit="agent.created",
    ),
    Route("registry:agent-quick-create", "GET", statuses(200, service_account=403, anonymous=302)),
    Route(
        "registry:agent-quick-create",
        "POST",
        statuses(302, service_account=403),
        data=lambda c, user: {
            "key": "hr.onboarding-buddy",
            "name": "Onboarding buddy",
            "business_unit": c.unit.pk,
            "owner": (user or c.owner).pk,
            "objective": "Helps new joiners",
            "pattern": "employee_enablement",
            "autonomy_level": 1,
            "data_classification": "internal",
        },
        audit="agent.created",
    ),
    Route("registry:agent-card-register", "GET", statuses(200, service_account=403, anonymous=302)),
    Route(
        "registry:agent-card-register",
        "POST",
        statuses(302, service_account=403),
        data=lambda c, user: {
            "key": "travel.planner",
            "owner": (user or c.owner).pk,
            "business_unit": c.unit.pk,
            "pattern": "workplace_services",
            "autonomy_level": 2,
            "data_classification": "internal",
            "card_json": MATRIX_CARD,
        },
        audit="agent.card_imported",
    ),
    Route("registry:agent-card", "GET", AGENT_PAGE_CHANGE, kwargs=agent_key),
    Route(
        "registry:agent-card",
        "POST",
        AGENT_PAGE_CHANGE_POST,
        kwargs=agent_key,
        data=lambda c, user: {"card_json": MATRIX_CARD},
        audit="agent.card_proposed",
    ),
    Route(
        "registry:agent-card",
        "POST",
        AGENT_PAGE_MANAGE_POST,
        label="confirm",
        setup=lambda c: services.propose_card(c.agent, MATRIX_CARD, actor=c.owner),
        kwargs=agent_key,
        data=lambda c, user: {"confirm": "1"},
        audit="agent.card_changed",
    ),
    Route("registry:agent-import", "GET", statuses(200, service_account=403, anonymous=302)),
    Route(
        "registry:agent-import-template",
        "GET",
        statuses(200, anonymous=302),
        kwargs=lambda c: {"fmt": "csv"},
    ),
    Route(
        "registry:agent-import",
        "POST",
        statuses(302, service_account=403),
        data=lambda c, user: {"file": import_file(c, user), "import": "1"},
        audit="agent.created",
    ),
    Route("registry:agent-detail", "GET", AGENT_PAGE_READ, kwargs=agent_key),
    Route("registry:agent-history", "GET", AGENT_PAGE_READ, kwargs=agent_key),
    Route("registry:agent-edit", "GET", AGENT_PAGE_CHANGE, kwargs=agent_key),
    Route(
        "registry:agent-edit",
        "POST",
        AGENT_PAGE_CHANGE_POST,
        kwargs=agent_key,
        data=lambda c, user: agent_form(c, user, name="Leave assistant v2"),
        audit="agent.changed",
    ),
    Route(
        "registry:agent-transition",
        "GET",
        statuses(405, service_account=405, anonymous=302),
        kwargs=agent_key,
    ),
    Route(
        "registry:agent-transition",
        "POST",
        AGENT_PAGE_CHANGE_POST,
        kwargs=agent_key,
        data=lambda c, user: {"to_state": "in_review", "reason": "Ready for the board"},
        audit="agent.transitioned",
    ),
    Route(
        "registry:agent-transition",
        "POST",
        statuses(403, board=302, service_account=404, anonymous=302),
        label="board approves",
        setup=to_in_review,
        kwargs=agent_key,
        data=lambda c, user: {"to_state": "approved", "reason": "Controls in place"},
        audit="agent.transitioned",
    ),
    Route("registry:agent-transfer", "GET", AGENT_PAGE_MANAGE, kwargs=agent_key),
    Route(
        "registry:agent-transfer",
        "POST",
        AGENT_PAGE_MANAGE_POST,
        kwargs=agent_key,
        data=lambda c, user: {"new_owner": c.employee.pk, "reason": "Olivia moves to finance"},
        audit="agent.owner_transferred",
    ),
    Route("registry:agent-delegates", "GET", AGENT_PAGE_MANAGE, kwargs=agent_key),
    Route(
        "registry:agent-delegates",
        "POST",
        AGENT_PAGE_MANAGE_POST,
        kwargs=agent_key,
        data=lambda c, user: {"user": c.employee.pk},
        audit="agent.delegate_granted",
    ),
    Route(
        "registry:agent-delegates",
        "POST",
        AGENT_PAGE_MANAGE_POST,
        label="remove",
        kwargs=agent_key,
        data=lambda c, user: {"remove": c.delegate.pk},
        audit="agent.delegate_revoked",
    ),
    Route("registry:version-create", "GET", AGENT_PAGE_CHANGE, kwargs=agent_key),
    Route(
        "registry:version-create",
        "POST",
        AGENT_PAGE_CHANGE_POST,
        kwargs=agent_key,
        data=lambda c, user: {"label": "2.0.0", "model_provider": "openai", "model_name": "gpt-5"},
        audit="version.created",
    ),
    # --- API ---------------------------------------------------------------------------
    Route("api:api-root", "GET", API_READ),
    Route("api:agent-list", "GET", API_READ),
    Route(
        "api:agent-list",
        "POST",
        statuses(201, service_account=403, anonymous=401),
        data=new_agent_json,
        audit="agent.created",
    ),
    Route("api:agent-detail", "GET", API_AGENT_READ, kwargs=agent_key),
    Route("api:agent-detail", "PUT", API_AGENT_CHANGE, kwargs=agent_key, data=agent_json, audit="agent.changed"),
    Route(
        "api:agent-detail",
        "PATCH",
        API_AGENT_CHANGE,
        kwargs=agent_key,
        data=lambda c, user: {"name": "Leave assistant v2"},
        audit="agent.changed",
    ),
    # Agents are retired, never deleted: those allowed to change it hear why (405).
    Route(
        "api:agent-detail",
        "DELETE",
        statuses(403, owner=405, delegate=405, admin=405, service_account=404, anonymous=401),
        kwargs=agent_key,
    ),
    Route(
        "api:agent-transition",
        "POST",
        API_AGENT_CHANGE,
        kwargs=agent_key,
        data=lambda c, user: {"to_state": "in_review", "reason": "Ready for the board"},
        audit="agent.transitioned",
    ),
    Route(
        "api:agent-transition",
        "POST",
        statuses(403, board=200, service_account=404, anonymous=401),
        label="board approves",
        setup=to_in_review,
        kwargs=agent_key,
        data=lambda c, user: {"to_state": "approved", "reason": "Controls in place"},
        audit="agent.transitioned",
    ),
    Route(
        "api:agent-transfer",
        "POST",
        API_AGENT_MANAGE,
        kwargs=agent_key,
        data=lambda c, user: {"new_owner": c.employee.username, "reason": "Olivia moves to finance"},
        audit="agent.owner_transferred",
    ),
    Route(
        "api:agent-delegates",
        "POST",
        API_AGENT_MANAGE,
        kwargs=agent_key,
        data=lambda c, user: {"user": c.employee.username},
        audit="agent.delegate_granted",
    ),
    Route(
        "api:agent-delegates",
        "DELETE",
        API_AGENT_MANAGE,
        kwargs=agent_key,
        data=lambda c, user: {"user": c.delegate.username},
        audit="agent.delegate_revoked",
    ),
    Route("api:agent-history", "GET", API_AGENT_READ, kwargs=agent_key),
    Route(
        "api:agent-bulk-import",
        "POST",
        # A service account sees no business unit: its rows are refused on that column (400).
        statuses(200, service_account=403, anonymous=401),
        data=lambda c, user: {"file": import_file(c, user)},
        audit="agent.created",
    ),
    Route(
        "api:agent-from-card",
        "POST",
        statuses(201, service_account=403, anonymous=401),
        data=lambda c, user: {
            "card": json.loads(MATRIX_CARD),
            "key": "travel.planner",
            "business_unit": c.unit.slug,
            "pattern": "workplace_services",
            "autonomy_level": 2,
            "data_classification": "internal",
        },
        audit="agent.card_imported",
    ),
    Route(
        "api:agent-card",
        "POST",
        API_AGENT_CHANGE,
        kwargs=agent_key,
        data=lambda c, user: {"card": json.loads(MATRIX_CARD)},
        audit="agent.card_proposed",
    ),
    Route(
        "api:agent-confirm-card",
        "POST",
        API_AGENT_MANAGE,
        setup=lambda c: services.propose_card(c.agent, MATRIX_CARD, actor=c.owner),
        kwargs=agent_key,
        audit="agent.card_changed",
    ),
    # Registration as code: the schema is public; applying changes an agent only for those who may change it.
    Route("api:agent-manifest-schema", "GET", statuses(200)),
    Route(
        "api:agent-apply",
        "POST",
        # A service account sees no business unit, so its manifest is refused on that field (400).
        statuses(403, owner=200, delegate=200, admin=200, service_account=400, anonymous=401),
        data=lambda c, user: {"manifests": [agent_manifest(c, name="Leave assistant v2")]},
        audit="agent.changed",
    ),
    Route(
        "api:agent-apply",
        "POST",
        statuses(200, service_account=400, anonymous=401),
        label="create",
        data=lambda c, user: {"manifests": [agent_manifest(c, key="hr.manifest-made")]},
        audit="agent.created",
    ),
    Route("api:businessunit-list", "GET", API_READ),
    Route(
        "api:businessunit-list",
        "POST",
        API_ADMIN_CREATE,
        data=lambda c, user: {"name": "Payroll", "slug": "payroll", "parent": c.unit.slug},
        audit="business_unit.created",
    ),
    Route("api:businessunit-detail", "GET", API_CATALOG_DETAIL, kwargs=lambda c: {"slug": c.unit.slug}),
    Route(
        "api:businessunit-detail",
        "PUT",
        API_ADMIN_CHANGE,
        kwargs=lambda c: {"slug": c.unit.slug},
        data=lambda c, user: {"name": "People", "slug": c.unit.slug, "parent": c.unit.parent.slug},
        audit="business_unit.changed",
    ),
    Route(
        "api:businessunit-detail",
        "PATCH",
        API_ADMIN_CHANGE,
        kwargs=lambda c: {"slug": c.unit.slug},
        data=lambda c, user: {"name": "People"},
        audit="business_unit.changed",
    ),
    # Reference data is never deleted (agents' history points at it).
    Route("api:businessunit-detail", "DELETE", statuses(405, anonymous=401), kwargs=lambda c: {"slug": c.unit.slug}),
    Route("api:tool-list", "GET", API_READ),
    Route(
        "api:tool-list",
        "POST",
        API_ADMIN_CREATE,
        data=lambda c, user: {"key": "servicenow.open-ticket", "name": "Open a ticket", "supports_write": True},
        audit="tool.created",
    ),
    Route("api:tool-detail", "GET", API_CATALOG_DETAIL, kwargs=lambda c: {"key": c.tool.key}),
    Route(
        "api:tool-detail",
        "PUT",
        API_ADMIN_CHANGE,
        kwargs=lambda c: {"key": c.tool.key},
        data=lambda c, user: {"key": c.tool.key, "name": "Leave balance"},
        audit="tool.changed",
    ),
    Route(
        "api:tool-detail",
        "PATCH",
        API_ADMIN_CHANGE,
        kwargs=lambda c: {"key": c.tool.key},
        data=lambda c, user: {"name": "Leave balance"},
        audit="tool.changed",
    ),
    Route("api:tool-detail", "DELETE", statuses(405, anonymous=401), kwargs=lambda c: {"key": c.tool.key}),
    Route("api:agentversion-list", "GET", API_READ),
    # A service account cannot see the agent, so it cannot even name it (400 on the field).
    Route(
        "api:agentversion-list",
        "POST",
        statuses(403, owner=201, delegate=201, admin=201, service_account=400, anonymous=401),
        data=lambda c, user: {
            "agent": c.agent.key,
            "label": "2.0.0",
            "model_provider": "openai",
            "model_name": "gpt-5",
            "tools": [{"tool": c.tool.key, "access": "read"}],
        },
        audit="version.created",
    ),
    Route("api:agentversion-detail", "GET", API_AGENT_READ, kwargs=lambda c: {"pk": c.version.pk}),
]


# --- MCP servers -------------------------------------------------------------------------
# Every person reads the inventory and registers servers; the owner and administrators change a
# server; the owner, the board and administrators scan it; only the board approves it; only
# administrators raise a tool's access. A service account has no server in scope (404).
MCP_PAGE_CHANGE = statuses(403, owner=200, admin=200, service_account=404, anonymous=302)
MCP_PAGE_CHANGE_POST = statuses(403, owner=302, admin=302, service_account=404, anonymous=302)
MCP_API_CHANGE = statuses(403, owner=200, admin=200, service_account=404, anonymous=401)


def mcp_key(c) -> dict:
    return {"key": c.mcp_server.key}


def scanned_mcp_key(c) -> dict:
    return {"key": c.scanned_mcp_server.key}


def mcp_tool_kwargs(c) -> dict:
    tool = c.scanned_mcp_server.tools.get(mcp_name="read_leave_balance")
    return {"key": c.scanned_mcp_server.key, "tool_key": tool.key}


def mcp_form(c, user) -> dict:
    return {
        "name": "Workday tools v2",
        "url": c.mcp_server.url,
        "transport": "streamable_http",
        "description": c.mcp_server.description,
        "business_unit": c.unit.pk,
        "owner": c.mcp_server.owner_id,  # shown to administrators only; others' forms ignore it
    }


def mcp_json(c, user) -> dict:
    return {
        "key": c.mcp_server.key,
        "name": "Workday tools v2",
        "endpoint": c.mcp_server.url,
        "business_unit": c.unit.slug,
    }


ROUTES += [
    Route("registry:mcp-list", "GET", PAGE_READ),
    Route("registry:mcp-list", "GET", PAGE_READ, label="filtered", query={"search": "work", "approval": "awaiting"}),
    Route("registry:mcp-create", "GET", statuses(200, service_account=403, anonymous=302)),
    Route(
        "registry:mcp-create",
        "POST",
        statuses(302, service_account=403),
        data=lambda c, user: {
            "key": "finance.ledger-tools",
            "name": "Ledger tools",
            "url": "https://mcp.example.org/ledger",
            "transport": "streamable_http",
            "business_unit": c.unit.pk,
            "owner": (user or c.owner).pk,
        },
        audit="mcp_server.registered",
    ),
    Route("registry:mcp-detail", "GET", statuses(200, service_account=404, anonymous=302), kwargs=mcp_key),
    Route("registry:mcp-edit", "GET", MCP_PAGE_CHANGE, kwargs=mcp_key),
    Route("registry:mcp-edit", "POST", MCP_PAGE_CHANGE_POST, kwargs=mcp_key, data=mcp_form, audit="mcp_server.changed"),
    Route(
        "registry:mcp-scan",
        "POST",
        statuses(403, owner=302, board=302, admin=302, service_account=404, anonymous=302),
        kwargs=mcp_key,
        audit="mcp_server.scanned",
    ),
    Route(
        "registry:mcp-approve",
        "POST",
        statuses(403, board=302, service_account=404, anonymous=302),
        kwargs=scanned_mcp_key,
        data=lambda c, user: {"note": "Tools reviewed"},
        audit="mcp_server.approved",
    ),
    Route(
        "registry:mcp-tool-access",
        "POST",
        statuses(403, admin=302, service_account=404, anonymous=302),
        kwargs=mcp_tool_kwargs,
        data=lambda c, user: {"access": "write"},
        audit="tool.changed",
    ),
    Route("api:mcpserver-list", "GET", API_READ),
    Route(
        "api:mcpserver-list",
        "POST",
        statuses(201, service_account=403, anonymous=401),
        data=lambda c, user: {
            "key": "finance.ledger-tools",
            "name": "Ledger tools",
            "endpoint": "https://mcp.example.org/ledger",
            "business_unit": c.unit.slug,
        },
        audit="mcp_server.registered",
    ),
    Route("api:mcpserver-detail", "GET", API_CATALOG_DETAIL, kwargs=mcp_key),
    Route("api:mcpserver-detail", "PUT", MCP_API_CHANGE, kwargs=mcp_key, data=mcp_json, audit="mcp_server.changed"),
    Route(
        "api:mcpserver-detail",
        "PATCH",
        MCP_API_CHANGE,
        kwargs=mcp_key,
        data=lambda c, user: {"name": "Workday tools v2"},
        audit="mcp_server.changed",
    ),
    Route("api:mcpserver-detail", "DELETE", statuses(405, anonymous=401), kwargs=mcp_key),
    Route(
        "api:mcpserver-scan",
        "POST",
        statuses(403, owner=200, board=200, admin=200, service_account=404, anonymous=401),
        kwargs=mcp_key,
        audit="mcp_server.scanned",
    ),
    Route(
        "api:mcpserver-approve",
        "POST",
        statuses(403, board=200, service_account=404, anonymous=401),
        kwargs=scanned_mcp_key,
        data=lambda c, user: {"note": "Tools reviewed"},
        audit="mcp_server.approved",
    ),
]


# --- Stops (the runtime stop switch; the registry owns them) ---


def stop_in_force(c):
    if "stop" not in c.extra:
        c.extra["stop"] = services.start_stop("business_unit", c.unit, actor=c.admin, reason="Matrix freeze")
    return c.extra["stop"]


ROUTES += [
    Route("registry:agent-stop", "GET", statuses(405, anonymous=302), kwargs=agent_key),
    Route(
        "registry:agent-stop",
        "POST",
        statuses(403, owner=302, delegate=302, board=302, admin=302, service_account=404, anonymous=302),
        kwargs=agent_key,
        data=lambda c, user: {"reason": "Matrix stop"},
        audit="stop.started",
    ),
    Route("registry:stop-list", "GET", statuses(200, anonymous=302)),
    Route(
        "registry:stop-list",
        "POST",
        statuses(403, board=302, admin=302, anonymous=302),
        data=lambda c, user: {"scope": "pattern", "target": "core_process", "reason": "Matrix wide stop"},
        audit="stop.started",
    ),
    Route(
        "registry:stop-lift",
        "POST",
        statuses(403, board=302, admin=302, anonymous=302),
        setup=stop_in_force,
        kwargs=lambda c: {"pk": stop_in_force(c).pk},
        data=lambda c, user: {"lift_reason": "Matrix over"},
        audit="stop.lifted",
    ),
    Route("api:stop-list", "GET", statuses(200, anonymous=401)),
    Route(
        "api:stop-list",
        "POST",
        statuses(403, owner=201, delegate=201, board=201, admin=201, service_account=400, anonymous=401),
        data=lambda c, user: {"scope": "agent", "target": c.agent.key, "reason": "Matrix stop"},
        audit="stop.started",
    ),
    Route(
        "api:stop-detail",
        "GET",
        statuses(200, anonymous=401),
        setup=stop_in_force,
        kwargs=lambda c: {"pk": stop_in_force(c).pk},
    ),
    Route(
        "api:stop-lift",
        "POST",
        statuses(403, board=200, admin=200, anonymous=401),
        setup=stop_in_force,
        kwargs=lambda c: {"pk": stop_in_force(c).pk},
        data=lambda c, user: {"lift_reason": "Matrix over"},
        audit="stop.lifted",
    ),
]
