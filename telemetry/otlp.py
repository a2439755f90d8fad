"""OTLP/HTTP traces: decode a request (protobuf or JSON), then turn GenAI spans into events.

Follows the OpenTelemetry GenAI semantic conventions as frameworks emit them:

- identity from ``gen_ai.agent.id``; a UUID-shaped id is unstable (made up per
  process), so such an agent, or one that sends only ``gen_ai.agent.name``, is
  known by that name and the resource's ``service.name``;
- an ``invoke_agent`` span is one invocation, ``execute_tool`` a tool call, a
  ``chat`` (or other model) span a model call carrying token usage;
- spans without identity belong to their nearest named ancestor in the same
  trace, in this export or, through ``telemetry.traces``, in another one
  within the trace window, so child token counts land on the right agent;
  when the agent span carries token totals they count and its children's do
  not (no double counting);
- environment from ``deployment.environment.name`` (or the older
  ``deployment.environment``) through the source's alias table; never refused
  for it (``telemetry.environments``); errors from the span status;
- ``invoke_workflow`` counts as ``invoke_agent``; the newer identity
  attributes ``gen_ai.agent.identity.id`` / ``.name`` win over
  ``gen_ai.agent.id`` / ``.name``, and ``gen_ai.main_agent.*`` names the
  agent of spans nothing else claims (``docs/telemetry.md``);
- ``execute_tool`` spans and MCP client ``tools/call`` spans are tool calls
  naming their tool (and, for MCP, the server's ``server.address``);
  ``gen_ai.evaluation.*`` results, as span events or attributes, are kept
  per evaluation name.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from telemetry.choices import EventKind, RejectionReason
from telemetry.environments import DEFAULT_TABLE, EnvironmentTable
from telemetry.identity import identify
from telemetry.ingest import (
    MAX_EVALUATION_LABEL,
    MAX_EVALUATION_NAME,
    MAX_SERVER_ADDRESS,
    MAX_TOOL_NAME,
    Evaluation,
    Event,
    EventError,
    Rejection,
    check_timestamp,
)

STATUS_ERROR = 2
MODEL_OPERATIONS = {"chat", "text_completion", "generate_content", "embeddings", "create_agent"}
# Operations counted as another: invoke_workflow was folded into invoke_agent.
OPERATION_ALIASES = {"invoke_workflow": "invoke_agent"}
# Operations whose span is one agent run (and may carry the run's token totals). _operation() already
# reads invoke_workflow as invoke_agent; it is listed so the set says so on its own.
AGENT_OPERATIONS = {"invoke_agent", "invoke_workflow"}
MCP_TOOL_CALL = "tools/call"


class OtlpDecodeError(ValueError):
    """The body is not a valid OTLP trace export."""


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: dict
    status_code: int
    resource: dict = field(default_factory=dict)
    # Span events as (name, attributes): evaluation results travel as ``gen_ai.evaluation.result`` events.
    events: list = field(default_factory=list)
    flags: int = 0


# --- Decoding -------------------------------------------------------------------------


def _any_value_pb(value):
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value_pb(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value_pb(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def decode_protobuf(body: bytes) -> list[Span]:
    request = trace_service_pb2.ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise OtlpDecodeError("The body is not a valid OTLP protobuf ExportTraceServiceRequest.") from exc
    spans = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _any_value_pb(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes={kv.key: _any_value_pb(kv.value) for kv in span.attributes},
                        status_code=span.status.code,
                        resource=resource,
                        events=[
                            (event.name, {kv.key: _any_value_pb(kv.value) for kv in event.attributes})
                            for event in span.events
                        ],
                        flags=span.flags,
                    )
                )
    return spans


def _any_value_json(value):
    if not isinstance(value, dict):
        return value
    for kind in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "arrayValue" in value:
        return [_any_value_json(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return _attributes_json((value["kvlistValue"] or {}).get("values", []))
    return None


def _attributes_json(items) -> dict:
    if not isinstance(items, list):
        raise OtlpDecodeError("attributes must be a list of {key, value} objects.")
    result = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise OtlpDecodeError("Each attribute needs a string key.")
        result[item["key"]] = _any_value_json(item.get("value"))
    return result


def _events_json(items) -> list:
    if not isinstance(items, list):
        raise OtlpDecodeError("events must be a list of {name, attributes} objects.")
    events = []
    for item in items:
        if not isinstance(item, dict):
            raise OtlpDecodeError("Each span event must be an object.")
        events.append((str(item.get("name", "")), _attributes_json(item.get("attributes", []) or [])))
    return events


def _nanos(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError, OverflowError) as exc:
        raise OtlpDecodeError("Span times must be integers (nanoseconds since the epoch).") from exc


def _flags(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0


def decode_json(body: bytes) -> list[Span]:
    """OTLP/JSON: camelCase (snake_case tolerated) field names, hex trace and span ids."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OtlpDecodeError(f"The body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise OtlpDecodeError("The body must be a JSON object with resourceSpans.")

    def get(obj, camel, snake, default=None):
        if not isinstance(obj, dict):
            raise OtlpDecodeError(f"Expected an object where {camel} is read.")
        return obj.get(camel, obj.get(snake, default))

    spans = []
    resource_spans_list = get(data, "resourceSpans", "resource_spans", [])
    if not isinstance(resource_spans_list, list):
        raise OtlpDecodeError("resourceSpans must be a list.")
    for resource_spans in resource_spans_list:
        resource = _attributes_json(
            get(get(resource_spans, "resource", "resource", {}) or {}, "attributes", "attributes", [])
        )
        for scope_spans in get(resource_spans, "scopeSpans", "scope_spans", []) or []:
            for span in get(scope_spans, "spans", "spans", []) or []:
                if not isinstance(span, dict):
                    raise OtlpDecodeError("Each span must be an object.")
                status = get(span, "status", "status", {}) or {}
                code = status.get("code", 0) if isinstance(status, dict) else 0
                if isinstance(code, str):
                    code = {"STATUS_CODE_ERROR": 2, "STATUS_CODE_OK": 1}.get(code, 0)
                spans.append(
                    Span(
                        trace_id=str(get(span, "traceId", "trace_id", "") or "").lower(),
                        span_id=str(get(span, "spanId", "span_id", "") or "").lower(),
                        parent_span_id=str(get(span, "parentSpanId", "parent_span_id", "") or "").lower(),
                        name=str(span.get("name", "")),
                        start_ns=_nanos(get(span, "startTimeUnixNano", "start_time_unix_nano", 0)),
                        end_ns=_nanos(get(span, "endTimeUnixNano", "end_time_unix_nano", 0)),
                        attributes=_attributes_json(span.get("attributes", []) or []),
                        status_code=code if isinstance(code, int) else 0,
                        resource=resource,
                        events=_events_json(span.get("events", []) or []),
                        flags=_flags(span.get("flags", 0)),
                    )
                )
    return spans


# --- From spans to events -------------------------------------------------------------


def _is_mcp_tool_call(span: Span) -> bool:
    return span.attributes.get("mcp.method.name") == MCP_TOOL_CALL


def _operation(span: Span) -> str:
    if _is_mcp_tool_call(span):
        return "execute_tool"  # an MCP client calling a tool is a tool call, whatever else it says
    op = span.attributes.get("gen_ai.operation.name")
    if isinstance(op, str) and op:
        return OPERATION_ALIASES.get(op, op)
    first = span.name.split(" ", 1)[0]
    first = OPERATION_ALIASES.get(first, first)
    return first if first in {"invoke_agent", "execute_tool", *MODEL_OPERATIONS} else ""


# --- Attribute extraction: identity, tool, evaluations -------------------------------------
#
# Kept apart from the span walk below: each reads one span's own attributes and nothing else.

IDENTITY_ATTRIBUTES = (
    "gen_ai.agent.identity.id",
    "gen_ai.agent.identity.name",
    "gen_ai.agent.id",
    "gen_ai.agent.name",
)


def _text(value) -> str:
    # NUL is removed: PostgreSQL text cannot hold it, and no name or id means it.
    return str(value).replace("\x00", "").strip() if value is not None and not isinstance(value, (dict, list)) else ""


def _own_identity(span: Span):
    """The agent the span names itself. Precedence (docs/telemetry.md): ``gen_ai.agent.identity.id``
    (provider-assigned, stable even when UUID-shaped), then a stable ``gen_ai.agent.id``, then the
    name (``gen_ai.agent.identity.name``, else ``gen_ai.agent.name``) with the resource's service."""
    attrs = span.attributes
    service = _text(span.resource.get("service.name"))
    name = _text(attrs.get("gen_ai.agent.identity.name")) or _text(attrs.get("gen_ai.agent.name"))
    identity_id = _text(attrs.get("gen_ai.agent.identity.id"))
    if identity_id:
        return identify(identity_id, name, service, provider_assigned=True)
    agent_id = _text(attrs.get("gen_ai.agent.id"))
    if not agent_id and not name:
        return None
    return identify(agent_id, name, service)


def _main_agent_identity(span: Span):
    """The ``gen_ai.main_agent.*`` entity: the top-level agent of a multi-agent run. It names the
    agent only of spans that neither name one themselves nor descend from one that does."""
    attrs = span.attributes
    agent_id = _text(attrs.get("gen_ai.main_agent.identity.id"))
    name = _text(attrs.get("gen_ai.main_agent.name"))
    service = _text(span.resource.get("service.name"))
    if agent_id:
        return identify(agent_id, name, service, provider_assigned=True)
    agent_id = _text(attrs.get("gen_ai.main_agent.id"))
    if not agent_id and not name:
        return None
    return identify(agent_id, name, service)


def _tool_called(span: Span) -> tuple[str, str]:
    """(tool name, MCP server address) of a tool-call span; the name from ``gen_ai.tool.name``, else
    the span name (``execute_tool <tool>``, ``tools/call <tool>``). The server only for MCP spans."""
    mcp = _is_mcp_tool_call(span)
    name = _text(span.attributes.get("gen_ai.tool.name"))
    if not name:
        prefix = f"{MCP_TOOL_CALL} " if mcp else "execute_tool "
        name = span.name[len(prefix) :].strip() if span.name.startswith(prefix) else ""
    server = _text(span.attributes.get("server.address")).lower() if mcp else ""
    return name[:MAX_TOOL_NAME], server[:MAX_SERVER_ADDRESS]


def _score(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        score = float(value)
    except ValueError:
        return None
    return score if score == score and abs(score) != float("inf") else None


def _evaluations(span: Span) -> tuple[Evaluation, ...]:
    """Evaluation results on the span: ``gen_ai.evaluation.result`` events (any span event naming an
    evaluation), and the span's own ``gen_ai.evaluation.*`` attributes."""
    sources = [attrs for _name, attrs in span.events if attrs.get("gen_ai.evaluation.name")]
    if span.attributes.get("gen_ai.evaluation.name"):
        sources.append(span.attributes)
    results = []
    for attrs in sources:
        name = _text(attrs.get("gen_ai.evaluation.name"))[:MAX_EVALUATION_NAME]
        if name:
            results.append(
                Evaluation(
                    name=name,
                    score=_score(attrs.get("gen_ai.evaluation.score.value")),
                    label=_text(attrs.get("gen_ai.evaluation.score.label"))[:MAX_EVALUATION_LABEL],
                )
            )
    return tuple(results)


def _int_attr(attrs: dict, name: str) -> int:
    value = attrs.get(name)
    try:
        return max(0, int(value)) if value is not None and not isinstance(value, bool) else 0
    except (TypeError, ValueError):
        return 0


@dataclass
class PendingChild:
    """A GenAI child span whose named ancestor is not in this export: held until a later export
    brings ``waiting_for`` (the highest ancestor it reached), or the trace window closes."""

    trace_id: str
    span_id: str
    waiting_for: str
    event: Event  # identity left None until attributed
    payload: dict
    # True when an invoke_agent ancestor in this export carries token totals (the child's tokens
    # were zeroed already); None when that is for the ancestor still to come to say.
    agent_totals: bool | None = None
    # For an MCP ``tools/call`` span: its parent, which may be the framework's ``execute_tool`` span
    # wrapping it (then the two are one call, counted on the wrapper).
    mcp_parent: str = ""


@dataclass
class SpanOwnership:
    """A span of this export and the identity it belongs to: recorded so that children arriving in a
    later export find their agent (``telemetry.traces``)."""

    trace_id: str
    span_id: str
    identity: object
    agent_totals: bool
    # An execute_tool span (not itself MCP): an MCP tools/call span inside it is the same call.
    tool_call: bool = False


@dataclass
class Conversion:
    events: list[Event]
    rejected: int
    messages: list[str]
    rejections: list = field(default_factory=list)
    pending: list[PendingChild] = field(default_factory=list)
    owners: list[SpanOwnership] = field(default_factory=list)
    # Spans of this export by id (trace, span): a held child waiting for one of them resolves here.
    spans: dict = field(default_factory=dict)
    chains: dict = field(default_factory=dict)
    # (trace, span) of this export's execute_tool spans that are not MCP spans themselves.
    wrappers: set = field(default_factory=set)

    @property
    def received(self) -> int:
        """GenAI spans this export carried: stored, rejected or held."""
        return len(self.events) + self.rejected + len(self.pending)


# --- Environment, attribution, rejection: kept apart from the span reading above -----------------


def span_environment(span: Span, environments: EnvironmentTable) -> tuple[str, str]:
    """(environment, raw label) of a span's resource; never refused (``telemetry.environments``)."""
    resource = span.resource
    label = resource.get("deployment.environment.name")
    if label is None or label == "":
        label = resource.get("deployment.environment")
    return environments.resolve(label)


def _has_totals(span: Span) -> bool:
    return (
        span.attributes.get("gen_ai.usage.input_tokens") is not None
        or span.attributes.get("gen_ai.usage.output_tokens") is not None
    )


@dataclass(slots=True)
class Chain:
    """Where a span's ancestry leads within one export."""

    identity: object = None  # the nearest named span's identity, if reached
    agent_totals: bool | None = None  # the nearest invoke_agent's "carries token totals", if one was met
    missing: str = ""  # the parent span id the walk could not find in this export


# Span flags (OTLP 1.1+): whether the parent's context is known to be remote, i.e. in another process.
FLAG_HAS_IS_REMOTE = 0x100
FLAG_IS_REMOTE = 0x200


def parent_is_remote(span: Span) -> bool:
    """The sender says this span's parent lives in another process (an upstream service): a child's
    agent span is in its own process, so the walk ends here as at a root."""
    return bool(span.flags & FLAG_HAS_IS_REMOTE) and bool(span.flags & FLAG_IS_REMOTE)


def chain_of(span: Span, by_id: dict, own: dict) -> Chain:
    """Walk up from ``span`` (itself included) to its nearest named span, noting the nearest
    invoke_agent on the way; stop at a root or a span whose parent is remote (not an agent's), or at
    a parent this export lacks."""
    chain = Chain()
    current = span
    for _hop in range(256):
        if chain.agent_totals is None and _operation(current) in AGENT_OPERATIONS:
            chain.agent_totals = _has_totals(current)
        if own[id(current)] is not None:
            chain.identity = own[id(current)]
            return chain
        if not current.parent_span_id or parent_is_remote(current):
            return chain
        parent = by_id.get((current.trace_id, current.parent_span_id))
        if parent is None:
            chain.missing = current.parent_span_id
            return chain
        current = parent
    return chain


# What the agent said and was told: never kept with a rejected or held span. Ingest stores counts, and
# a source page (administrators, the board) must not become a store of prompts and tool results.
CONTENT_ATTRIBUTES = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.prompt",
        "gen_ai.completion",
    }
)
CONTENT_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.")
CONTENT_NOT_KEPT = "(content not kept)"


def _without_content(attributes: dict) -> dict:
    return {
        key: CONTENT_NOT_KEPT if key in CONTENT_ATTRIBUTES or key.startswith(CONTENT_PREFIXES) else value
        for key, value in attributes.items()
    }


def span_payload(span: Span) -> dict:
    """A span as sent, for the rejected items a source page shows, without message or tool content."""
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "name": span.name,
        "start_time_unix_nano": span.start_ns,
        "end_time_unix_nano": span.end_ns,
        "status_code": span.status_code,
        "attributes": _without_content(span.attributes),
        "resource": span.resource,
    }


def _reject(conversion: "Conversion", span: Span, reason: str, detail: str) -> None:
    conversion.rejected += 1
    conversion.messages.append(f"span {span.span_id or span.name}: {detail}")
    conversion.rejections.append(Rejection(reason, f"span {span.span_id or span.name}: {detail}", span_payload(span)))


def spans_to_events(spans: list[Span], now: datetime, environments: EnvironmentTable = DEFAULT_TABLE) -> Conversion:
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    own = {id(s): _own_identity(s) for s in spans}
    has_identity_attrs = {id(s) for s in spans if any(s.attributes.get(a) for a in IDENTITY_ATTRIBUTES)}
    conversion = Conversion([], 0, [], spans=by_id)
    chains = {id(s): chain_of(s, by_id, own) for s in spans}
    for s in spans:
        chain = chains[id(s)]
        if chain.identity is None and not chain.missing:
            # Nothing in its ancestry names an agent, and nothing is missing: the run's main agent
            # (gen_ai.main_agent.*), if the span names one, is its agent.
            chain.identity = _main_agent_identity(s)
    conversion.chains = chains
    tools = _tool_calls(spans, by_id)
    conversion.wrappers = {(s.trace_id, s.span_id) for s in spans if id(s) in tools and not _is_mcp_tool_call(s)}
    kinds = {"invoke_agent": EventKind.INVOCATION, "execute_tool": EventKind.TOOL_CALL}
    for s in spans:
        chain = chains[id(s)]
        op = _operation(s)
        if chain.identity is not None and s.trace_id and s.span_id and op not in MODEL_OPERATIONS:
            # Any span of a named agent's trace may be the parent of a child in a later export, except a
            # model call: a leaf (remembering it would be most of the rows, for no child).
            conversion.owners.append(
                SpanOwnership(
                    s.trace_id,
                    s.span_id,
                    chain.identity,
                    bool(chain.agent_totals),
                    tool_call=(s.trace_id, s.span_id) in conversion.wrappers,
                )
            )
        kind = kinds.get(op) or (EventKind.MODEL_CALL if op in MODEL_OPERATIONS else None)
        evaluations = _evaluations(s)
        if kind == EventKind.TOOL_CALL and id(s) not in tools:
            continue  # the MCP call inside a framework's execute_tool span: one tool call, counted there
        if kind is None and evaluations:
            kind = EventKind.EVALUATION
        if kind is None:
            continue  # not a GenAI span (HTTP, database …): nothing to count
        if chain.identity is None and not chain.missing:
            if id(s) in has_identity_attrs or op == "invoke_agent":
                _reject(
                    conversion,
                    s,
                    RejectionReason.NO_IDENTITY,
                    "no stable agent identity (gen_ai.agent.name is missing)",
                )
            continue  # a root without identity: not an agent's span
        try:
            if not s.start_ns:
                raise EventError({"startTimeUnixNano": "The span has no start time."})
            occurred_at = check_timestamp(
                datetime.fromtimestamp((s.end_ns or s.start_ns) / 1e9, tz=UTC), now, "endTimeUnixNano"
            )
        except (EventError, OverflowError, OSError, ValueError) as exc:
            detail = "; ".join(exc.errors.values()) if isinstance(exc, EventError) else "invalid span time"
            _reject(conversion, s, RejectionReason.BAD_TIME, detail)
            continue
        environment, label = span_environment(s, environments)
        input_tokens = _int_attr(s.attributes, "gen_ai.usage.input_tokens")
        output_tokens = _int_attr(s.attributes, "gen_ai.usage.output_tokens")
        if kind != EventKind.INVOCATION and chain.agent_totals:
            # The agent span carries the run's totals: they count, its children's would count twice.
            input_tokens = output_tokens = 0
        latency = (s.end_ns - s.start_ns) / 1e6 if s.end_ns and s.end_ns >= s.start_ns else None
        event = Event(
            identity=chain.identity,
            environment=environment,
            environment_label=label,
            kind=kind,
            occurred_at=occurred_at,
            is_error=s.status_code == STATUS_ERROR,
            latency_ms=latency,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=Decimal(0),
            # Span ids are unique within a trace: a re-sent export is stored once.
            event_id=f"{s.trace_id}:{s.span_id}"[:100] if s.trace_id and s.span_id else None,
            tool_name=tools.get(id(s), ("", ""))[0],
            tool_server=tools.get(id(s), ("", ""))[1],
            evaluations=evaluations,
        )
        if chain.identity is None and not (s.trace_id and s.span_id):
            # Held spans are found again by trace and span id: without them this one could never be.
            _reject(conversion, s, RejectionReason.INVALID_FIELD, "a span whose agent is elsewhere needs its ids")
            continue
        if chain.identity is None:
            # Its agent span is in another export (earlier or later): held, see telemetry.traces.
            conversion.pending.append(
                PendingChild(
                    s.trace_id,
                    s.span_id,
                    chain.missing,
                    event,
                    span_payload(s),
                    chain.agent_totals,
                    mcp_parent=s.parent_span_id if _is_mcp_tool_call(s) else "",
                )
            )
            continue
        conversion.events.append(event)
    conversion.messages = conversion.messages[:20]
    return conversion


def _tool_calls(spans: list[Span], by_id: dict) -> dict[int, tuple[str, str]]:
    """id(span) -> (tool, MCP server) for the spans that count as tool calls. A framework's
    ``execute_tool`` span wrapping the MCP client's ``tools/call`` span is one call: the outer span
    counts, and takes the server (and, if it has none, the tool name) of the MCP span inside it."""
    calls = {id(s): _tool_called(s) for s in spans if _operation(s) == "execute_tool"}
    for s in spans:
        if not _is_mcp_tool_call(s) or not s.parent_span_id:
            continue
        parent = by_id.get((s.trace_id, s.parent_span_id))
        if parent is None or id(parent) not in calls or _is_mcp_tool_call(parent):
            continue
        tool, server = calls.pop(id(s))
        outer_tool, outer_server = calls[id(parent)]
        calls[id(parent)] = (outer_tool or tool, outer_server or server)
    return calls


def response_body(rejected: int, message: str, *, as_json: bool) -> bytes:
    """An ExportTraceServiceResponse, partial success included when spans were rejected."""
    if as_json:
        body = {}
        if rejected or message:
            body["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
        return json.dumps(body).encode()
    response = trace_service_pb2.ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return response.SerializeToString()


def status_body(message: str, code: int, *, as_json: bool) -> bytes:
    """A google.rpc.Status for error answers (OTLP/HTTP failure responses)."""
    if as_json:
        return json.dumps({"code": code, "message": message}).encode()
    # google.rpc.Status is two fields (1: int32 code, 2: string message); encoded by hand
    # so production needs no googleapis-common-protos just for error answers.
    return _varint_field(1, code) + _bytes_field(2, message.encode())


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _bytes_field(number: int, value: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(value)) + value
