"""The two ingest endpoints: the JSON batch (``/api/v1/telemetry/events``) and OTLP/HTTP traces
(``/v1/traces``). Plain Django views: they speak protobuf as well as JSON, read gzip, and must
answer with OTLP's own error shapes, which DRF's content negotiation would get in the way of.

Both authenticate a source token (``Authorization: Bearer ing_…``), refuse a body over
TELEMETRY_MAX_BODY_BYTES (413, also after gunzip), and answer 2xx only after the data is committed.
"""

import gzip
import json
import logging
import zlib

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from telemetry import otlp, services
from telemetry.ingest import EventError, parse_batch_event, store_events

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 5000


class IngestRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _token(request):
    header = request.headers.get("Authorization", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise IngestRefused(401, "Send the source's ingest token as 'Authorization: Bearer ing_…'.")
    token = services.authenticate_ingest_token(parts[1])
    if token is None:
        raise IngestRefused(401, "This ingest token is unknown or revoked, or its source is inactive.")
    return token


def _body(request) -> bytes:
    limit = settings.TELEMETRY_MAX_BODY_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise IngestRefused(413, f"The body is larger than {limit} bytes; send smaller batches.")
    try:
        body = request.read(limit + 1)
    except (RequestDataTooBig, OSError) as exc:
        raise IngestRefused(413, f"The body is larger than {limit} bytes; send smaller batches.") from exc
    if len(body) > limit:
        raise IngestRefused(413, f"The body is larger than {limit} bytes; send smaller batches.")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "gzip":
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = decompressor.decompress(body, limit + 1)
            if len(body) > limit or decompressor.unconsumed_tail:
                raise IngestRefused(413, f"The uncompressed body is larger than {limit} bytes.")
        except (zlib.error, gzip.BadGzipFile, EOFError) as exc:
            raise IngestRefused(400, "The body is not valid gzip.") from exc
    elif encoding not in ("", "identity"):
        raise IngestRefused(415, f"Content-Encoding {encoding!r} is not supported; use gzip or none.")
    return body


def _media_type(request) -> str:
    return (request.content_type or "").split(";")[0].strip().lower()


@csrf_exempt
@require_POST
def batch_events(request):
    """Store a JSON batch of up to 5,000 events; invalid ones are reported by index, the rest kept."""
    try:
        token = _token(request)
        if _media_type(request) != "application/json":
            raise IngestRefused(415, "Send the batch as application/json.")
        body = _body(request)
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IngestRefused(400, f"The body is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
            raise IngestRefused(400, 'The body must be an object with a list of events: {"events": [...]}.')
        raw_events = payload["events"]
        if len(raw_events) > MAX_BATCH_EVENTS:
            raise IngestRefused(413, f"At most {MAX_BATCH_EVENTS} events per batch; this one has {len(raw_events)}.")
    except IngestRefused as exc:
        return JsonResponse({"detail": exc.message}, status=exc.status)
    now = timezone.now()
    events, rejected = [], []
    for index, raw in enumerate(raw_events):
        try:
            events.append(parse_batch_event(raw, now))
        except EventError as exc:
            rejected.append({"index": index, "errors": exc.errors})
    result = store_events(token.source_id, events, now=now)
    return JsonResponse(
        {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": rejected},
        status=200,
    )


@csrf_exempt
@require_POST
def otlp_traces(request):
    """OTLP/HTTP trace export (protobuf or JSON, optionally gzip); answers per the OTLP spec."""
    media = _media_type(request)
    as_json = media == "application/json"
    content_type = "application/json" if as_json else "application/x-protobuf"

    def fail(status: int, message: str, code: int) -> HttpResponse:
        return HttpResponse(otlp.status_body(message, code, as_json=as_json), status=status, content_type=content_type)

    try:
        token = _token(request)
        if media not in ("application/x-protobuf", "application/protobuf", "application/json"):
            raise IngestRefused(415, "Send OTLP as application/x-protobuf or application/json.")
        body = _body(request)
    except IngestRefused as exc:
        grpc_code = {401: 16, 413: 8, 415: 3}.get(exc.status, 3)
        return fail(exc.status, exc.message, grpc_code)
    try:
        spans = otlp.decode_json(body) if as_json else otlp.decode_protobuf(body)
    except otlp.OtlpDecodeError as exc:
        return fail(400, str(exc), 3)
    now = timezone.now()
    conversion = otlp.spans_to_events(spans, now)
    store_events(token.source_id, conversion.events, now=now)
    message = "; ".join(conversion.messages)
    return HttpResponse(
        otlp.response_body(conversion.rejected, message, as_json=as_json), status=200, content_type=content_type
    )
