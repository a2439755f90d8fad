"""Ingest tokens can only ingest.

The registry's personal-token authentication ignores tokens of other kinds,
so without this a source token on any other endpoint would merely look
anonymous (401 or a login redirect). It is a credential used in the wrong
place, and the answer says so: 403, before any view runs.
"""

from django.http import JsonResponse

from telemetry.services import INGEST_TOKEN_PREFIX

INGEST_PATHS = ("/api/v1/telemetry/events", "/v1/traces")


class IngestTokenScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        parts = header.split()
        if (
            len(parts) == 2
            and parts[0].lower() == "bearer"
            and parts[1].startswith(INGEST_TOKEN_PREFIX)
            and request.path.rstrip("/") not in INGEST_PATHS
        ):
            return JsonResponse(
                {"detail": "An ingest token may only send telemetry (POST /api/v1/telemetry/events or /v1/traces)."},
                status=403,
            )
        return self.get_response(request)
