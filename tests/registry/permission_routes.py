"""The registry's pages and API endpoints in the permission matrix (see tests/permission_matrix.py)."""

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


def agent_json(c, user) -> dict:
    return {**new_agent_json(c, user), "key": c.agent.key, "name": "Leave assistant v2", "row_version": 1}


ROUTES = [
    # --- Sign-in and documentation ---------------------------------------------------
    Route("login", "GET", statuses(200)),
    Route("logout", "POST", statuses(302)),
    Route("api-schema", "GET", statuses(200)),
    Route("api-docs", "GET", statuses(200)),
    Route("admin:index", "GET", statuses(302, admin=200)),
    # --- Pages -------------------------------------------------------------------------
    Route("registry:home", "GET", PAGE_READ),
    Route("registry:catalog", "GET", PAGE_READ),
    Route("registry:catalog", "GET", PAGE_READ, label="search", query={"search": "leave", "lifecycle": "proposed"}),
    Route("registry:people-search", "GET", PAGE_READ, query={"q": "er"}),
    Route("registry:profile", "GET", PAGE_READ),
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
    Route("registry:agent-detail", "GET", AGENT_PAGE_READ, kwargs=agent_key),
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
