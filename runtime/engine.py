"""The decision engine: one AuthZEN request in, one decision out, from the worker's snapshot alone.

A decision is ``true`` only when every rule holds (docs/policy.md, "Runtime decisions"); the
first rule that fails gives the reason code. Nothing here touches the database.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from registry.choices import TOOL_ACCESS_RANK, DataClassification, Environment, StopScope, ToolAccess
from runtime.choices import USER_REASONS, ActionCategory, ReasonCode
from runtime.snapshot import Snapshot, lifecycle_allows
from telemetry.environments import DEFAULT_TABLE
from telemetry.identity import is_unstable_id

# Actions that run the agent itself rather than call a tool.
RUN_ACTIONS = frozenset({"run", "invoke", "start", "agent.run", "agent.invoke"})
# Actions that name the access a tool call needs.
ACCESS_ACTIONS = {"read": ToolAccess.READ, "write": ToolAccess.WRITE, "execute": ToolAccess.EXECUTE}
TOOL_TYPES = frozenset({"tool", "mcp_tool", "mcp"})
# A prefixed id ("urn:acme:agent:hr.leave-assistant", "arn:aws:bedrock:...:agent/hr.leave-assistant").
SEGMENT_SPLIT = re.compile(r"[:/]")
AUTONOMY_NEEDING_APPROVAL = 3
MAX_ID_LENGTH = 300


class BadRequest(Exception):
    """Field-level errors of a malformed request (a 400)."""

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


@dataclass(slots=True)
class Ask:
    """One parsed evaluation request."""

    subject: str
    subject_name: str
    action: str
    resource_type: str
    resource_id: str
    environment: str
    needed_access: str | None = None
    mcp_server: str = ""
    mcp_tool: str = ""
    amount: Decimal | None = None
    irreversible: bool = False
    category: str = ""
    data_classification: str = ""

    @property
    def is_tool_call(self) -> bool:
        return self.resource_type in TOOL_TYPES or self.action not in RUN_ACTIONS

    @property
    def resource_label(self) -> str:
        if self.mcp_server:
            return f"{self.mcp_server}/{self.mcp_tool}"
        return self.resource_id


@dataclass(slots=True)
class Decision:
    allowed: bool
    code: str
    details: str
    agent_id: int | None = None
    agent_key: str | None = None
    extra: dict = field(default_factory=dict)

    def context(self, version: str) -> dict:
        body = {
            "reason_code": self.code,
            "reason_admin": {"en": self.details},
            "reason_user": {"en": USER_REASONS[self.code]},
            "agent": self.agent_key,
            "policy_version": version,
        }
        body.update(self.extra)
        return body

    def as_authzen(self, version: str) -> dict:
        return {"decision": self.allowed, "context": self.context(version)}


# --- Parsing --------------------------------------------------------------------------------------


def _obj(value, name: str, errors: dict, required: bool = True) -> dict:
    if value is None:
        if required:
            errors[name] = "This field is required."
        return {}
    if not isinstance(value, dict):
        errors[name] = "Must be an object."
        return {}
    return value


def _str(obj: dict, key: str, name: str, errors: dict, required: bool = True) -> str:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            errors[name] = "This field is required."
        return ""
    if not isinstance(value, str):
        errors[name] = "Must be a string."
        return ""
    value = value.strip()
    if len(value) > MAX_ID_LENGTH:
        errors[name] = f"At most {MAX_ID_LENGTH} characters."
        return ""
    if "\x00" in value:
        # Refused here: the decision log stores subjects, and PostgreSQL text cannot hold NUL.
        errors[name] = "Must not contain NUL characters."
        return ""
    return value


def merge(defaults: dict, item: dict) -> dict:
    """An evaluation of a batch: its own subject/action/resource/context, else the request's defaults."""
    merged = {}
    for key in ("subject", "action", "resource", "context"):
        merged[key] = item[key] if key in item else defaults.get(key)
    return merged


def parse(body, prefix: str = "") -> Ask:
    """Validate one AuthZEN access evaluation request; field errors name the JSON path."""
    errors: dict = {}
    if not isinstance(body, dict):
        raise BadRequest({prefix.rstrip(".") or "body": "Must be a JSON object."})
    subject = _obj(body.get("subject"), f"{prefix}subject", errors)
    action = _obj(body.get("action"), f"{prefix}action", errors)
    resource = _obj(body.get("resource"), f"{prefix}resource", errors)
    context = _obj(body.get("context"), f"{prefix}context", errors, required=False)
    subject_id = _str(subject, "id", f"{prefix}subject.id", errors) if subject else ""
    if subject:
        _str(subject, "type", f"{prefix}subject.type", errors)
    action_name = _str(action, "name", f"{prefix}action.name", errors) if action else ""
    resource_type = _str(resource, "type", f"{prefix}resource.type", errors) if resource else ""
    resource_id = _str(resource, "id", f"{prefix}resource.id", errors) if resource else ""
    props = {}
    for name, obj in (("subject", subject), ("action", action), ("resource", resource)):
        value = obj.get("properties") if obj else None
        props[name] = _obj(value, f"{prefix}{name}.properties", errors, required=False)
    # Context first, then resource properties, then the resource itself for an environment resource.
    env_raw = context.get("environment") or props["resource"].get("environment")
    if env_raw is None and resource_type == "environment":
        env_raw = resource_id
    environment = Environment.PRODUCTION
    if env_raw is not None:
        # The labels telemetry reads (prod, uat, staging-eu ...); a label it cannot place is refused here,
        # since a decision must know which environment it is for.
        environment = None
        if isinstance(env_raw, str):
            mapped, _label = DEFAULT_TABLE.resolve(env_raw)
            environment = None if mapped == "unspecified" else mapped
        if env_raw == "pilot":
            environment = Environment.STAGING
        if environment is None:
            errors[f"{prefix}context.environment"] = "Use development, staging (or pilot) or production."
    ask = Ask(
        subject=subject_id,
        subject_name=str(props["subject"].get("name") or "").replace("\x00", "")[:200],
        action=action_name.lower() if action_name.lower() in RUN_ACTIONS | set(ACCESS_ACTIONS) else action_name,
        resource_type=resource_type.lower(),
        resource_id=resource_id,
        environment=environment or Environment.PRODUCTION,
    )
    access = props["action"].get("access")
    if ask.action in ACCESS_ACTIONS:
        ask.needed_access = ACCESS_ACTIONS[ask.action]
    elif access is not None:
        if not isinstance(access, str) or access not in ACCESS_ACTIONS:
            errors[f"{prefix}action.properties.access"] = "Use read, write or execute."
        else:
            ask.needed_access = access
    if ask.resource_type in ("mcp_tool", "mcp"):
        server = props["resource"].get("server")
        tool = props["resource"].get("tool")
        if server is None and "/" in resource_id:
            server, tool = resource_id.split("/", 1)
        if not isinstance(server, str) or not isinstance(tool, str) or not server or not tool:
            errors[f"{prefix}resource.id"] = "Name an MCP tool as 'server/tool' or with properties server and tool."
        else:
            ask.mcp_server, ask.mcp_tool = server.strip()[:200], tool.strip()[:200]
    amount = context.get("amount")
    if amount is not None:
        try:
            if isinstance(amount, bool) or not isinstance(amount, (int, float, str)):
                raise InvalidOperation
            ask.amount = Decimal(str(amount))
            if not ask.amount.is_finite() or ask.amount < 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors[f"{prefix}context.amount"] = "Give the amount as a non-negative number."
    irreversible = context.get("irreversible", False)
    if not isinstance(irreversible, bool):
        errors[f"{prefix}context.irreversible"] = "Must be true or false."
    else:
        ask.irreversible = irreversible
    category = context.get("category", "")
    if category and category not in ActionCategory.values:
        errors[f"{prefix}context.category"] = f"Use one of {', '.join(ActionCategory.values)}."
    else:
        ask.category = category or ""
    classification = context.get("data_classification", "")
    if classification and classification not in DataClassification.values:
        errors[f"{prefix}context.data_classification"] = f"Use one of {', '.join(DataClassification.values)}."
    else:
        ask.data_classification = classification or ""
    if errors:
        raise BadRequest(errors)
    return ask


# --- Subject and resource resolution ----------------------------------------------------------------


def resolve_subject(snap: Snapshot, subject: str, name: str = "") -> int | None:
    """The registered agent the subject names: an alias or key as given, a ``name@service``
    identity through its name, or the last segment of a URN/ARN-style prefixed id."""
    if not subject or is_unstable_id(subject):
        return None
    found = snap.identities.get(subject)
    if found is not None:
        return found
    if "@" in subject:
        found = snap.identities.get(subject.split("@", 1)[0])
        if found is not None:
            return found
    if SEGMENT_SPLIT.search(subject):
        last = SEGMENT_SPLIT.split(subject)[-1]
        if last and not is_unstable_id(last):
            found = snap.identities.get(last)
            if found is not None:
                return found
    if name:
        return snap.identities.get(f"{name}@{subject}") or snap.identities.get(name)
    return None


def resolve_tool(snap: Snapshot, ask: Ask) -> int | None:
    if ask.mcp_server:
        server_id = snap.server_names.get(ask.mcp_server) or snap.server_names.get(ask.mcp_server.lower())
        if server_id is None:
            return None
        return snap.mcp_tools.get((server_id, ask.mcp_tool))
    for candidate in (ask.resource_id, ask.action):
        if not candidate or candidate in RUN_ACTIONS or candidate in ACCESS_ACTIONS:
            continue
        tid = snap.tool_names.get(candidate) or snap.tool_names.get(candidate.lower())
        if tid is not None:
            return tid
    return None


# --- The rules ------------------------------------------------------------------------------------


def _stop(snap: Snapshot, agent, tool) -> tuple[str, tuple] | None:
    stops = snap.stops
    if not stops:
        return None
    hit = stops.get((StopScope.AGENT, agent.id))
    if hit:
        return "the agent", hit
    for unit_id in agent.units:
        hit = stops.get((StopScope.BUSINESS_UNIT, unit_id))
        if hit:
            return f"business unit {snap.units.get(unit_id)}", hit
    hit = stops.get((StopScope.PATTERN, agent.pattern))
    if hit:
        return f"pattern {agent.pattern}", hit
    if tool is not None:
        hit = stops.get((StopScope.TOOL, tool.id))
        if hit:
            return f"tool {tool.key}", hit
        if tool.server_id is not None:
            hit = stops.get((StopScope.MCP_SERVER, tool.server_id))
            if hit:
                return f"MCP server {snap.servers.get(tool.server_id)}", hit
    return None


def evaluate(snap: Snapshot, ask: Ask, now=None) -> Decision:
    """The decision for one request against one snapshot."""
    agent_id = resolve_subject(snap, ask.subject, ask.subject_name)
    if agent_id is None:
        return Decision(False, ReasonCode.UNREGISTERED, f"No registered agent matches the subject {ask.subject!r}.")
    agent = snap.agents[agent_id]
    env = ask.environment

    def deny(code, details, **extra):
        return Decision(False, code, details, agent.id, agent.key, extra)

    refused = lifecycle_allows(agent, env)
    if refused == ReasonCode.RETIRED:
        return deny(refused, f"{agent.key} is retired.")
    if refused:
        needs = (
            "production needs the production lifecycle and a version released to production"
            if env == Environment.PRODUCTION
            else "staging needs the pilot or production lifecycle"
        )
        return deny(refused, f"{agent.key} is {agent.lifecycle}; {needs}.")

    tool = None
    tool_id = None
    if ask.is_tool_call:
        tool_id = resolve_tool(snap, ask)
        tool = snap.tools.get(tool_id) if tool_id is not None else None
    stop = _stop(snap, agent, tool)
    if stop is not None:
        what, (stop_id, reason) = stop
        return deny(ReasonCode.STOPPED, f"A stop is in force on {what}: {reason}", stop=stop_id)

    needed = None
    if ask.is_tool_call:
        if tool is None:
            return deny(ReasonCode.TOOL_NOT_GRANTED, f"{ask.resource_label or ask.action!r} is not a catalog tool.")
        granted = snap.grants_for(agent.id, env).get(tool.id)
        version = snap.version_label(agent.id, env)
        if granted is None:
            where = f"version {version} in force in {env}" if version else f"no version in force in {env}"
            return deny(ReasonCode.TOOL_NOT_GRANTED, f"{tool.key} is not granted ({where}).", tool=tool.key)
        needed = ask.needed_access or tool.max_access
        if TOOL_ACCESS_RANK[granted] < TOOL_ACCESS_RANK[needed]:
            return deny(
                ReasonCode.ACCESS_EXCEEDED,
                f"{tool.key} is granted {granted} access in version {version}; this action needs {needed}.",
                tool=tool.key,
                granted=granted,
                needed=needed,
            )

    irreversible = ask.irreversible or needed == ToolAccess.EXECUTE
    sensitive = irreversible or ask.category in (ActionCategory.FINANCIAL, ActionCategory.LEGAL)
    if sensitive and agent.autonomy <= AUTONOMY_NEEDING_APPROVAL:
        kind = "irreversible" if irreversible else ask.category
        return deny(
            ReasonCode.APPROVAL_REQUIRED,
            f"{kind.capitalize()} actions of an agent at autonomy {agent.autonomy} need a person's approval.",
            approval={"why": kind, "approver": "a person accountable for the agent (its owner or escalation contact)"},
        )
    if ask.amount is not None and agent.threshold is not None and float(ask.amount) > agent.threshold:
        return deny(
            ReasonCode.APPROVAL_REQUIRED,
            f"The amount {ask.amount} is over the agent's approval threshold of {agent.threshold:g}.",
            approval={"why": "amount", "threshold": agent.threshold, "amount": float(ask.amount)},
        )
    if snap.deny_open_critical_finding and env == Environment.PRODUCTION and agent.id in snap.critical_findings:
        return deny(ReasonCode.OPEN_CRITICAL_FINDING, f"{agent.key} has an open critical finding.")
    if snap.deny_monitoring_lapsed and agent.monitoring_deadline is not None:
        if agent.monitoring_deadline < (now or timezone.now()):
            return deny(ReasonCode.MONITORING_LAPSED, f"{agent.key} missed its monitoring deadline.")
    return Decision(True, ReasonCode.ALLOWED, "Every rule holds.", agent.id, agent.key)
