"""The AuthZEN Authorization API 1.0 endpoints (OpenID Foundation): the Access Evaluation API, the
Access Evaluations (batch) API and the PDP metadata.

Plain Django views, like the telemetry ingest endpoints: they answer the spec's shapes exactly, and
a decision must cost little beyond HTTP itself (no DRF negotiation, no session, no query: the
caller's credential is checked against the worker's snapshot too).
"""

import hashlib
import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from runtime import log, snapshot
from runtime.engine import BadRequest, evaluate, merge, parse
from runtime.services import CREDENTIAL_PREFIX

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_BATCH = 10_000
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")


def _reply(request, body: dict, status: int = 200) -> JsonResponse:
    # X-Request-ID is echoed or minted by registry.middleware.RequestIdMiddleware, as the spec asks.
    return JsonResponse(body, status=status)


def _refuse(request, status: int, detail: str, errors: dict | None = None) -> JsonResponse:
    body = {"detail": detail}
    if errors:
        body["errors"] = errors
    response = _reply(request, body, status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="authzen"'
    return response


def _caller(request, snap):
    """(credential id, source id) for the request's gateway credential, or None."""
    parts = request.headers.get("Authorization", "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1].startswith(CREDENTIAL_PREFIX):
        return None
    found = snap.credentials.get(hashlib.sha256(parts[1].encode()).hexdigest())
    return None if found is None else found[:2]


def _json(request):
    if (request.content_type or "").split(";")[0].strip().lower() != "application/json":
        raise BadRequest({"body": "Send the request as application/json."})
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest({"body": f"The body is larger than {MAX_BODY_BYTES} bytes."})
    try:
        return json.loads(body)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, and an integer past Python's digit limit
        raise BadRequest({"body": f"The body is not valid JSON: {exc}"}) from exc


def _begin(request):
    snap = snapshot.current()
    caller = _caller(request, snap)
    if caller is None:
        return (
            snap,
            None,
            _refuse(
                request,
                401,
                "Send a gateway credential as 'Authorization: Bearer azn_…'; no other credential is accepted.",
            ),
        )
    return snap, caller, None


def _decide(snap, caller, ask, now):
    decision = evaluate(snap, ask, now)
    log.record(decision, ask, caller[0], caller[1], now)
    return decision


@csrf_exempt
@require_POST
def evaluation(request):
    """POST /access/v1/evaluation: one subject, action, resource and context in; one decision out."""
    snap, caller, refused = _begin(request)
    if refused:
        return refused
    try:
        ask = parse(_json(request))
    except BadRequest as exc:
        return _refuse(request, 400, "The request is not a valid AuthZEN evaluation.", exc.errors)
    decision = _decide(snap, caller, ask, timezone.now())
    response = _reply(request, decision.as_authzen(snap.policy_version))
    log.maybe_flush()
    return response


@csrf_exempt
@require_POST
def evaluations(request):
    """POST /access/v1/evaluations: a batch. Top-level subject, action, resource and context are the
    defaults of each item; ``options.evaluations_semantic`` is execute_all (the default),
    deny_on_first_deny or permit_on_first_permit (the answer stops after the deciding item)."""
    snap, caller, refused = _begin(request)
    if refused:
        return refused
    try:
        body = _json(request)
        if not isinstance(body, dict):
            raise BadRequest({"body": "Must be a JSON object."})
        items = body.get("evaluations")
        if items is not None and not isinstance(items, list):
            raise BadRequest({"evaluations": "Must be a list."})
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise BadRequest({"options": "Must be an object."})
        semantic = options.get("evaluations_semantic", "execute_all")
        if semantic not in SEMANTICS:
            raise BadRequest({"options.evaluations_semantic": f"Use one of {', '.join(SEMANTICS)}."})
        if items and len(items) > MAX_BATCH:
            raise BadRequest({"evaluations": f"At most {MAX_BATCH} evaluations per request; this has {len(items)}."})
        if not items:
            # The spec: without evaluations the request is a single evaluation, answered as one.
            asks = [parse(body)]
        else:
            errors: dict = {}
            asks = []
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    errors[f"evaluations[{index}]"] = "Must be an object."
                    continue
                try:
                    asks.append(parse(merge(body, item), prefix=f"evaluations[{index}]."))
                except BadRequest as exc:
                    errors.update(exc.errors)
            if errors:
                raise BadRequest(errors)
    except BadRequest as exc:
        return _refuse(request, 400, "The request is not a valid AuthZEN evaluations request.", exc.errors)
    now = timezone.now()
    if not items:
        response = _reply(request, _decide(snap, caller, asks[0], now).as_authzen(snap.policy_version))
        log.maybe_flush()
        return response
    results = []
    for ask in asks:
        decision = _decide(snap, caller, ask, now)
        results.append(decision.as_authzen(snap.policy_version))
        if semantic == "deny_on_first_deny" and not decision.allowed:
            break
        if semantic == "permit_on_first_permit" and decision.allowed:
            break
    response = _reply(request, {"evaluations": results})
    log.maybe_flush()
    return response


@require_GET
def configuration(request):
    """GET /.well-known/authzen-configuration: the PDP metadata (public, as the spec has it)."""
    base = settings.SITE_URL.rstrip("/")
    return HttpResponse(
        json.dumps(
            {
                "policy_decision_point": base,
                "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
                "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
            }
        ),
        content_type="application/json",
    )
