"""Telemetry's pages and API, and governance's findings pages and API, in the permission matrix
(see tests/permission_matrix.py). The findings entries live here because the telemetry helper
built them; they name governance routes."""

from datetime import timedelta

from django.utils import timezone

from tests.permission_matrix import Route, statuses

# Ingest endpoints authenticate a source token only: a person, a session or a personal token is 401.
INGEST = statuses(401)
ADMIN_PAGE = statuses(403, board=200, admin=200, anonymous=302)
TRIAGE_PAGE = statuses(403, board=200, admin=200, anonymous=302)
TRIAGE_POST = statuses(403, board=302, admin=302, anonymous=302)
SOURCE_DETAIL = statuses(404, board=200, admin=200, anonymous=302)
API_LIST = statuses(200, anonymous=401)
API_AGENT_ROW = statuses(200, service_account=404, anonymous=401)


def source(c):
    if "source" not in c.extra:
        from telemetry import services as telemetry_services

        c.extra["source"], c.extra["token"] = telemetry_services.create_source(
            actor=c.admin, name="Matrix gateway", kind="gateway"
        )
    return c.extra["source"]


def reported(c):
    """A source, and one report from the matrix agent and one from an unregistered identity."""
    from telemetry.identity import identify
    from telemetry.ingest import Event, store_events

    src = source(c)
    if "sighting" not in c.extra:
        store_events(
            src.pk,
            [
                Event(
                    identity=identify(key, None, None),
                    environment="staging",
                    kind="invocation",
                    occurred_at=timezone.now(),
                )
                for key in (c.agent.key, "matrix.shadow")
            ],
        )
        c.extra["sighting"] = src.sightings.get(agent=c.agent)
        c.extra["usage"] = c.agent.daily_usage.get()


def tools_reported(c):
    """One tool call with an evaluation result from the matrix agent: its tool and evaluation rollups."""
    from telemetry.identity import identify
    from telemetry.ingest import Evaluation, Event, store_events

    if "tool_usage" not in c.extra:
        store_events(
            source(c).pk,
            [
                Event(
                    identity=identify(c.agent.key, None, None),
                    environment="staging",
                    kind="tool_call",
                    occurred_at=timezone.now(),
                    tool_name="leave_balance",
                    tool_server="mcp.matrix.example",
                    evaluations=(Evaluation("relevance", 0.8, "relevant"),),
                )
            ],
        )
        c.extra["tool_usage"] = c.agent.daily_tool_usage.get()
        c.extra["evaluation"] = c.agent.daily_evaluations.get()


def alias(c):
    from telemetry.models import IdentityAlias

    c.extra["alias"] = IdentityAlias.objects.create(agent=c.agent, identity="Matrix bot@svc")


def finding(c):
    from governance import checks
    from governance.models import CheckRun, Finding
    from registry.models import Agent

    Agent.objects.filter(pk=c.agent.pk).update(lifecycle="production", production_since=timezone.now())
    checks.run_check("no_success_metric")
    c.extra["finding"] = Finding.objects.get(agent=c.agent)
    c.extra["run"] = CheckRun.objects.latest("id")


def future(days=30) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


ROUTES = [
    # --- Ingest (source tokens only) ---
    Route("api:telemetry-events", "POST", INGEST, data=lambda c, user: {"events": []}),
    Route("otlp-traces", "POST", INGEST),
    # --- Telemetry pages ---
    Route("telemetry:source-list", "GET", ADMIN_PAGE),
    Route(
        "telemetry:source-list",
        "POST",
        statuses(403, admin=200, anonymous=302),
        data=lambda c, user: {"name": "New collector", "kind": "collector", "active": "on"},
        audit="telemetry_source.created",
    ),
    Route("telemetry:source-detail", "GET", SOURCE_DETAIL, setup=source, kwargs=lambda c: {"pk": source(c).pk}),
    Route(
        "telemetry:source-detail",
        "POST",
        statuses(404, board=403, admin=302, anonymous=302),
        setup=source,
        kwargs=lambda c: {"pk": source(c).pk},
        data=lambda c, user: {"environments": "1", "default_environment": "staging", "aliases": "blue-* = production"},
        audit="telemetry_source.changed",
        label="environments",
    ),
    Route(
        "telemetry:source-detail",
        "POST",
        statuses(404, board=403, admin=200, anonymous=302),
        setup=source,
        kwargs=lambda c: {"pk": source(c).pk},
        data=lambda c, user: {"name": "rotation"},
        audit="ingest_token.created",
    ),
    Route("telemetry:identity-list", "GET", TRIAGE_PAGE, setup=reported),
    Route("telemetry:identity-detail", "GET", TRIAGE_PAGE, setup=reported, query={"identity": "matrix.shadow"}),
    Route("telemetry:identity-register", "GET", TRIAGE_PAGE, setup=reported, query={"identity": "matrix.shadow"}),
    Route(
        "telemetry:identity-register",
        "POST",
        TRIAGE_POST,
        setup=reported,
        data=lambda c, user: {
            "identity": "matrix.shadow",
            "key": "matrix.shadow",
            "name": "Matrix shadow",
            "owner": c.owner.pk,
            "business_unit": c.unit.pk,
            "objective": "Found by the matrix",
            "pattern": "employee_enablement",
            "autonomy_level": 1,
            "data_classification": "internal",
        },
        audit="agent.created",
    ),
    Route(
        "telemetry:identity-link",
        "POST",
        TRIAGE_POST,
        setup=reported,
        data=lambda c, user: {"identity": "matrix.shadow", "agent": c.agent.key},
        audit="identity_alias.created",
    ),
    Route(
        "telemetry:identity-external",
        "POST",
        TRIAGE_POST,
        setup=reported,
        data=lambda c, user: {
            "identity": "matrix.shadow",
            "reason": "A vendor's bot",
            "expires_at": (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        },
        audit="identity.marked_external",
    ),
    # --- Telemetry API ---
    Route("api:telemetrysource-list", "GET", API_LIST, setup=source),
    Route(
        "api:telemetrysource-list",
        "POST",
        statuses(403, admin=201, anonymous=401),
        data=lambda c, user: {"name": "Api collector", "kind": "collector"},
        audit="telemetry_source.created",
    ),
    Route(
        "api:telemetrysource-detail",
        "GET",
        statuses(404, board=200, admin=200, anonymous=401),
        setup=source,
        kwargs=lambda c: {"pk": source(c).pk},
    ),
    Route(
        "api:telemetrysource-detail",
        "PATCH",
        statuses(404, board=403, admin=200, anonymous=401),
        setup=source,
        kwargs=lambda c: {"pk": source(c).pk},
        data=lambda c, user: {"description": "Changed"},
        audit="telemetry_source.changed",
    ),
    # Sources are deactivated, never deleted or replaced wholesale.
    Route(
        "api:telemetrysource-detail",
        "PUT",
        statuses(405, anonymous=401),
        setup=source,
        kwargs=lambda c: {"pk": source(c).pk},
    ),
    Route(
        "api:telemetrysource-detail",
        "DELETE",
        statuses(405, anonymous=401),
        setup=source,
        kwargs=lambda c: {"pk": source(c).pk},
    ),
    Route(
        "api:telemetrysource-mint-token",
        "POST",
        statuses(404, board=403, admin=201, anonymous=401),
        setup=source,
        kwargs=lambda c: {"pk": source(c).pk},
        data=lambda c, user: {"name": "rotation"},
        audit="ingest_token.created",
    ),
    Route(
        "api:telemetrysource-revoke-token",
        "POST",
        statuses(404, board=403, admin=200, anonymous=401),
        setup=source,
        kwargs=lambda c: {"pk": source(c).pk},
        data=lambda c, user: {"token_id": source(c).tokens.get().pk},
        audit="ingest_token.revoked",
    ),
    Route(
        "api:telemetrysource-rejections",
        "GET",
        statuses(404, board=200, admin=200, anonymous=401),
        setup=source,
        kwargs=lambda c: {"pk": source(c).pk},
    ),
    Route("api:sighting-list", "GET", API_LIST, setup=reported),
    Route("api:sighting-detail", "GET", API_AGENT_ROW, setup=reported, kwargs=lambda c: {"pk": c.extra["sighting"].pk}),
    Route("api:dailyusage-list", "GET", API_LIST, setup=reported),
    Route("api:dailyusage-detail", "GET", API_AGENT_ROW, setup=reported, kwargs=lambda c: {"pk": c.extra["usage"].pk}),
    Route("api:dailytoolusage-list", "GET", API_LIST, setup=tools_reported),
    Route(
        "api:dailytoolusage-detail",
        "GET",
        API_AGENT_ROW,
        setup=tools_reported,
        kwargs=lambda c: {"pk": c.extra["tool_usage"].pk},
    ),
    Route("api:dailyevaluation-list", "GET", API_LIST, setup=tools_reported),
    Route(
        "api:dailyevaluation-detail",
        "GET",
        API_AGENT_ROW,
        setup=tools_reported,
        kwargs=lambda c: {"pk": c.extra["evaluation"].pk},
    ),
    Route("api:identityalias-list", "GET", API_LIST),
    Route(
        "api:identityalias-list",
        "POST",
        statuses(403, owner=201, delegate=201, board=201, admin=201, service_account=400, anonymous=401),
        data=lambda c, user: {"agent": c.agent.key, "identity": "Leave bot@hr-portal"},
        audit="identity_alias.created",
    ),
    Route("api:identityalias-detail", "GET", API_AGENT_ROW, setup=alias, kwargs=lambda c: {"pk": c.extra["alias"].pk}),
    Route(
        "api:identityalias-detail",
        "DELETE",
        statuses(403, owner=204, delegate=204, admin=204, service_account=404, anonymous=401),
        setup=alias,
        kwargs=lambda c: {"pk": c.extra["alias"].pk},
        audit="identity_alias.removed",
    ),
    # --- Findings pages (governance) ---
    Route("governance:findings", "GET", statuses(200, anonymous=302), setup=finding),
    Route(
        "governance:finding-detail",
        "GET",
        statuses(200, service_account=404, anonymous=302),
        setup=finding,
        kwargs=lambda c: {"pk": c.extra["finding"].pk},
    ),
    Route(
        "governance:finding-acknowledge",
        "POST",
        statuses(403, board=302, service_account=404, anonymous=302),
        setup=finding,
        kwargs=lambda c: {"pk": c.extra["finding"].pk},
        data=lambda c, user: {"note": "Seen"},
        audit="finding.acknowledged",
    ),
    Route(
        "governance:finding-waive",
        "POST",
        statuses(403, board=302, service_account=404, anonymous=302),
        setup=finding,
        kwargs=lambda c: {"pk": c.extra["finding"].pk},
        data=lambda c, user: {
            "reason": "Agreed",
            "until": (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        },
        audit="finding.waived",
    ),
    Route("governance:run-checks", "POST", statuses(403, admin=302, anonymous=302), audit="checks.requested"),
    # --- Findings API (governance) ---
    Route("api:finding-list", "GET", API_LIST, setup=finding),
    Route("api:finding-detail", "GET", API_AGENT_ROW, setup=finding, kwargs=lambda c: {"pk": c.extra["finding"].pk}),
    Route(
        "api:finding-acknowledge",
        "POST",
        statuses(403, board=200, service_account=404, anonymous=401),
        setup=finding,
        kwargs=lambda c: {"pk": c.extra["finding"].pk},
        data=lambda c, user: {"note": "Seen"},
        audit="finding.acknowledged",
    ),
    Route(
        "api:finding-waive",
        "POST",
        statuses(403, board=200, service_account=404, anonymous=401),
        setup=finding,
        kwargs=lambda c: {"pk": c.extra["finding"].pk},
        data=lambda c, user: {"reason": "Agreed", "until": future()},
        audit="finding.waived",
    ),
    Route("api:checkrun-list", "GET", API_LIST, setup=finding),
    Route("api:checkrun-detail", "GET", API_AGENT_ROW, setup=finding, kwargs=lambda c: {"pk": c.extra["run"].pk}),
    Route(
        "api:checkrun-run",
        "POST",
        statuses(403, admin=202, anonymous=401),
        data=lambda c, user: {},
        audit="checks.requested",
    ),
]
