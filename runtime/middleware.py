"""Gateway credentials can only ask for decisions.

Anywhere else an ``azn_`` credential is a credential used in the wrong place: 403, before any view
runs (like ingest tokens, ``telemetry.middleware``). On the decision endpoints nothing else is
accepted (``runtime.endpoints`` answers 401 to any other credential).
"""

from django.http import JsonResponse

from runtime.services import CREDENTIAL_PREFIX

DECISION_PATHS = ("/access/v1/evaluation", "/access/v1/evaluations")


class GatewayCredentialScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        if CREDENTIAL_PREFIX in header:
            parts = header.split()
            if (
                len(parts) == 2
                and parts[0].lower() == "bearer"
                and parts[1].startswith(CREDENTIAL_PREFIX)
                and request.path.rstrip("/") not in DECISION_PATHS
            ):
                return JsonResponse(
                    {"detail": "A gateway credential may only ask for decisions (POST /access/v1/evaluation(s))."},
                    status=403,
                )
        return self.get_response(request)
