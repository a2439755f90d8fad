"""The runtime routes in the permission matrix (see tests/permission_matrix.py).

The AuthZEN decision endpoints take a gateway credential only: a person, a session or a personal
token is 401 (tests/runtime/test_credentials_and_log.py covers the credential itself and its refusal
everywhere else). The PDP metadata is public, as the spec has it.
"""

from django.utils import timezone

from tests.permission_matrix import Route, statuses

DECISION = statuses(401)


def credential(c):
    if "credential" not in c.extra:
        from runtime import services as runtime_services
        from telemetry import services as telemetry_services

        source, _ = telemetry_services.create_source(actor=c.admin, name="Matrix edge", kind="gateway")
        c.extra["source"] = source
        c.extra["credential"], _ = runtime_services.create_gateway_credential(source, actor=c.admin, name="edge")
    return c.extra["credential"]


def denial(c):
    if "denial" not in c.extra:
        from runtime.models import DenialRecord

        now = timezone.now()
        c.extra["denial"] = DenialRecord.objects.create(
            minute=now.replace(second=0, microsecond=0),
            credential=credential(c),
            agent=c.agent,
            subject=c.agent.key,
            action="run",
            resource="production",
            environment="production",
            reason="stopped",
            count=3,
            first_at=now,
            last_at=now,
        )
    return c.extra["denial"]


ROUTES = [
    Route("runtime:evaluation", "POST", DECISION),
    Route("runtime:evaluations", "POST", DECISION),
    Route("runtime:authzen-configuration", "GET", statuses(200)),
    Route("api:gatewaycredential-list", "GET", statuses(200, anonymous=401), setup=credential),
    Route(
        "api:gatewaycredential-list",
        "POST",
        statuses(403, admin=201, anonymous=401),
        setup=credential,
        data=lambda c, user: {"name": "edge-2", "source": c.extra["source"].name},
        audit="gateway_credential.created",
    ),
    Route(
        "api:gatewaycredential-detail",
        "GET",
        statuses(404, board=200, admin=200, anonymous=401),
        setup=credential,
        kwargs=lambda c: {"pk": credential(c).pk},
    ),
    Route(
        "api:gatewaycredential-revoke",
        "POST",
        statuses(404, board=403, admin=200, anonymous=401),
        setup=credential,
        kwargs=lambda c: {"pk": credential(c).pk},
        audit="gateway_credential.revoked",
    ),
    Route("api:denialrecord-list", "GET", statuses(200, anonymous=401), setup=denial),
    Route(
        "api:denialrecord-detail",
        "GET",
        statuses(200, service_account=404, anonymous=401),
        setup=denial,
        kwargs=lambda c: {"pk": denial(c).pk},
    ),
    Route("api:policy-cedar", "GET", statuses(200, anonymous=401)),
    Route("runtime:credentials", "GET", statuses(403, board=200, admin=200, anonymous=302), setup=credential),
    Route(
        "runtime:credentials",
        "POST",
        statuses(403, admin=200, anonymous=302),
        setup=credential,
        data=lambda c, user: {"name": "edge-page", "source": c.extra["source"].pk},
        audit="gateway_credential.created",
    ),
]
