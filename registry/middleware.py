"""Request-level plumbing: request ids, refused-request auditing, and 503 while the database is away.

Order in MIDDLEWARE matters: RequestIdMiddleware sits near the top so every
log line and audit row of the request carries the id; RefusedAuditMiddleware
sits after AuthenticationMiddleware so it knows who was refused.
"""

import logging
import re
import sys
import uuid

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

from registry import audit, auth_audit

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only if it looks like one (no spaces, no markup, bounded length).
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$")
DATABASE_DOWN_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def incoming_request_id(request) -> str:
    raw = request.headers.get(REQUEST_ID_HEADER, "")
    return raw if SANE_REQUEST_ID.match(raw) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives each request an id (a sane incoming X-Request-ID is kept), echoed in the response.

    The id is the audit trail's correlation id for the request, and the JSON
    log formatter stamps it on every line logged while the request runs.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = incoming_request_id(request)
        token = audit.correlation_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            audit.correlation_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


NUL = "\x00"
NUL_MESSAGE = "Null characters are not allowed."


class RefuseNullCharactersMiddleware:
    """A NUL character in the path is a 404, in a query parameter a 400 naming the parameter.

    PostgreSQL cannot store or compare text holding NUL, so a lookup by such a
    value (an agent key in the path, a unit slug in a filter) would otherwise
    fail in the driver with a server error. Refused here once, for every view;
    NUL in a request body is refused by the API's lookup fields
    (``registry.api.fields.LookupField``) and by the form fields, with the
    field named.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path:
            return page_not_found(request, Http404("No such page."))
        bad = sorted({key for key, values in request.GET.lists() if NUL in key or any(NUL in v for v in values)})
        if bad:
            logger.info("refused a query string holding NUL: %s %s", request.method, request.path)
            if wants_json(request):
                return JsonResponse({key.replace(NUL, "\\0"): [NUL_MESSAGE] for key in bad}, status=400)
            return render_without_database("400.html", request, 400)
        return self.get_response(request)


class RefusedAuditMiddleware:
    """Writes an ``auth.refused`` audit row when a signed-in user gets a 403.

    Anonymous 403s (mostly expired CSRF tokens) are only logged: anyone could
    produce them in bulk, and the trail is for what people were refused.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                try:
                    auth_audit.record_refusal(request, response.status_code)
                except DatabaseError:
                    logger.exception("could not audit a refused request to %s", request.path)
            else:
                logger.info("anonymous request refused: %s %s", request.method, request.path)
        return response


def wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def render_without_database(template_name: str, request, status: int) -> HttpResponse:
    """Render an error page with no context processors, so it cannot touch the database."""
    body = loader.get_template(template_name).render({"request_id": getattr(request, "request_id", "")})
    return HttpResponse(body, status=status)


def database_unavailable(request) -> HttpResponse:
    message = "The registry cannot reach its database right now. Nothing was lost; try again in a minute."
    if wants_json(request):
        response = JsonResponse({"detail": message}, status=503)
    else:
        response = render_without_database("503.html", request, 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request, *args, **kwargs) -> HttpResponse:
    """handler500: 503 with a clear message when the database is away, else a plain 500 page (never a trace).

    Django calls it inside its exception handler, so ``sys.exc_info()`` names
    the error; this also catches failures in middleware (a session read while
    the database is down), which no view-level handler would see.
    """
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_DOWN_ERRORS):
        logger.error("database unavailable: %s", error)
        return database_unavailable(request)
    if wants_json(request):
        return JsonResponse(
            {"detail": "Server error. It has been logged.", "request_id": getattr(request, "request_id", "")},
            status=500,
        )
    return render_without_database("500.html", request, 500)


def page_not_found(request, exception=None):
    """handler404: JSON under /api/ (clients parse it), the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
