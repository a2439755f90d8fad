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

from telemetry import otlp, services, throttle, traces
from telemetry.choices import RejectionReason
from telemetry.environments import table_for
from telemetry.ingest import EventError, Rejection, parse_batch_event, record_rejections, store_events

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 5000


class IngestRefused(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def _with_retry_after(response: HttpResponse, exc: IngestRefused) -> HttpResponse:
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def _token(request):
    header = request.headers.get("Authorization", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise IngestRefused(401, "Send the source's ingest token as 'Authorization: Bearer ing_…'.")
    token = services.authenticate_ingest_token(parts[1])
    if token is None:
        raise IngestRefused(401, "This ingest token is unknown or revoked, or its source is inactive.")
    allowed, retry_after = throttle.allow(token.source_id)
    if not allowed:
        raise IngestRefused(
            429,
            f"This source sent more than {settings.TELEMETRY_INGEST_RATE_PER_MINUTE} requests this minute; "
            f"retry in {retry_after} s.",
            retry_after=retry_after,
        )
    return token


def _is_chunked(request) -> bool:
    encoding = request.META.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in encoding.lower() and not request.META.get("CONTENT_LENGTH")


def _read_chunked(request, limit: int) -> bytes:
    """A chunked body (no Content-Length): Django's request stream is sized by Content-Length and would
    read it as empty, so read the server's input directly, which is only safe where the server says
    it ends the stream at the body's end (``wsgi.input_terminated``: gunicorn does). Elsewhere 411:
    never a 2xx for a body that was not read."""
    stream = request.META.get("wsgi.input")
    if stream is None or not request.META.get("wsgi.input_terminated"):
        raise IngestRefused(411, "Send a Content-Length with the body; this server cannot read a chunked body.")
    parts, size = [], 0
    while size <= limit:
        part = stream.read(min(65536, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        raise IngestRefused(413, f"The body is larger than {limit} bytes; send smaller batches.")
    return b"".join(parts)


def _body(request) -> bytes:
    limit = settings.TELEMETRY_MAX_BODY_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise IngestRefused(413, f"The body is larger than {limit} bytes; send smaller batches.")
    try:
        body = _read_chunked(request, limit) if _is_chunked(request) else request.read(limit + 1)
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


def _refused(token, exc: IngestRefused) -> None:
    """A request refused after its source was known counts as one rejected item (413, 400 …)."""
    if token is None or exc.status not in (400, 411, 413, 415):
        return
    reason = RejectionReason.TOO_LARGE if exc.status == 413 else RejectionReason.MALFORMED
    record_rejections(token.source_id, [Rejection(reason, f"HTTP {exc.status}: {exc.message}")], received=1)


# Which reason an event's field errors come under, first match wins.
_REASON_OF_FIELD = (
    ({"agent", "agent_key", "agent_name", "service"}, RejectionReason.NO_IDENTITY),
    ({"timestamp"}, RejectionReason.BAD_TIME),
)


def _reason(errors: dict) -> str:
    for fields, reason in _REASON_OF_FIELD:
        if fields & set(errors):
            return reason
    return RejectionReason.INVALID_FIELD


def _media_type(request) -> str:
    return (request.content_type or "").split(";")[0].strip().lower()


@csrf_exempt
@require_POST
def batch_events(request):
    """Store a JSON batch of up to 5,000 events; invalid ones are reported by index, the rest kept."""
    token = None
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
        _refused(token, exc)
        return _with_retry_after(JsonResponse({"detail": exc.message}, status=exc.status), exc)
    now = timezone.now()
    environments = table_for(token.source)
    events, rejected, rejections = [], [], []
    for index, raw in enumerate(raw_events):
        try:
            events.append(parse_batch_event(raw, now, environments))
        except EventError as exc:
            rejected.append({"index": index, "errors": exc.errors})
            rejections.append(
                Rejection(
                    _reason(exc.errors),
                    f"event {index}: " + "; ".join(f"{k}: {v}" for k, v in exc.errors.items()),
                    raw,
                )
            )
    result = store_events(token.source_id, events, now=now, rejections=rejections)
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

    token = None
    try:
        token = _token(request)
        if media not in ("application/x-protobuf", "application/protobuf", "application/json"):
            raise IngestRefused(415, "Send OTLP as application/x-protobuf or application/json.")
        body = _body(request)
    except IngestRefused as exc:
        _refused(token, exc)
        grpc_code = {401: 16, 411: 3, 413: 8, 415: 3, 429: 8}.get(exc.status, 3)
        return _with_retry_after(fail(exc.status, exc.message, grpc_code), exc)
    try:
        spans = otlp.decode_json(body) if as_json else otlp.decode_protobuf(body)
    except otlp.OtlpDecodeError as exc:
        _refused(token, IngestRefused(400, str(exc)))
        return fail(400, str(exc), 3)
    now = timezone.now()
    conversion = otlp.spans_to_events(spans, now, table_for(token.source))
    traces.store_conversion(token.source_id, conversion, now=now)
    message = "; ".join(conversion.messages)
    return HttpResponse(
        otlp.response_body(conversion.rejected, message, as_json=as_json), status=200, content_type=content_type
    )
