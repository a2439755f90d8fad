"""The registry's vocabulary. Values are stable lowercase strings; labels are for people.

Each enumeration has a badge-colour map beside it for templates.
"""

from django.db import models


class UserKind(models.TextChoices):
    PERSON = "person", "Person"
    SERVICE = "service", "Service account"


class Pattern(models.TextChoices):
    EMPLOYEE_ENABLEMENT = "employee_enablement", "Employee AI enablement"
    EXPERT_EMPOWERMENT = "expert_empowerment", "Business expert empowerment"
    WORKPLACE_SERVICES = "workplace_services", "Workplace and IT services"
    CORE_PROCESS = "core_process", "Core business process transformation"
    EXTERNAL_ENGAGEMENT = "external_engagement", "External engagement"
    AI_FIRST = "ai_first", "AI-first capability"


PATTERN_COLORS = {
    Pattern.EMPLOYEE_ENABLEMENT: "teal",
    Pattern.EXPERT_EMPOWERMENT: "blue",
    Pattern.WORKPLACE_SERVICES: "indigo",
    Pattern.CORE_PROCESS: "purple",
    Pattern.EXTERNAL_ENGAGEMENT: "orange",
    Pattern.AI_FIRST: "pink",
}


class Mode(models.TextChoices):
    ASSIST = "assist", "Assist"
    EXECUTE = "execute", "Execute"


class AutonomyLevel(models.IntegerChoices):
    SUGGEST_ONLY = 1, "1 · Suggest only"
    PREPARE_AND_PROPOSE = 2, "2 · Prepare and propose"
    EXECUTE_WITH_REVIEW = 3, "3 · Execute with review"
    EXECUTE_WITH_GUARDRAILS = 4, "4 · Execute with guardrails"
    FULL_AUTONOMY = 5, "5 · Full autonomy"


# Levels 1-2 only recommend or draft; from level 3 the agent acts.
EXECUTE_MODE_FROM_LEVEL = 3


def mode_for_autonomy(level: int) -> str:
    return Mode.EXECUTE if level >= EXECUTE_MODE_FROM_LEVEL else Mode.ASSIST


class Topology(models.TextChoices):
    EMBEDDED = "embedded", "Embedded in an application"
    SERVICE = "service", "Standalone service"
    EVENT_DRIVEN = "event_driven", "Event-driven"
    LONG_RUNNING = "long_running", "Long-running"
    HYBRID = "hybrid", "Hybrid"


class CardSignature(models.TextChoices):
    """What the signatures of an imported A2A Agent Card proved."""

    VERIFIED = "verified", "Verified"
    UNVERIFIED = "unverified", "Unverified"
    INVALID = "invalid", "Invalid"


CARD_SIGNATURE_COLORS = {
    CardSignature.VERIFIED: "green",
    CardSignature.UNVERIFIED: "yellow",
    CardSignature.INVALID: "red",
}


class Environment(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class DataClassification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


DATA_CLASSIFICATION_COLORS = {
    DataClassification.PUBLIC: "green",
    DataClassification.INTERNAL: "blue",
    DataClassification.CONFIDENTIAL: "orange",
    DataClassification.RESTRICTED: "red",
}


class RiskTier(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


RISK_TIER_ORDER = {RiskTier.LOW: 0, RiskTier.MEDIUM: 1, RiskTier.HIGH: 2, RiskTier.CRITICAL: 3}
RISK_TIER_COLORS = {
    RiskTier.LOW: "green",
    RiskTier.MEDIUM: "yellow",
    RiskTier.HIGH: "orange",
    RiskTier.CRITICAL: "red",
}


class Lifecycle(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    PILOT = "pilot", "Pilot"
    PRODUCTION = "production", "Production"
    SUSPENDED = "suspended", "Suspended"
    RETIRED = "retired", "Retired"


LIFECYCLE_COLORS = {
    Lifecycle.PROPOSED: "gray",
    Lifecycle.IN_REVIEW: "blue",
    Lifecycle.APPROVED: "teal",
    Lifecycle.PILOT: "yellow",
    Lifecycle.PRODUCTION: "green",
    Lifecycle.SUSPENDED: "red",
    Lifecycle.RETIRED: "dark",
}

# States in which an agent runs and must be watched.
RUNNING_STATES = (Lifecycle.PILOT, Lifecycle.PRODUCTION)


class ToolAccess(models.TextChoices):
    """How far a grant lets an agent go with a tool; each level covers the ones before it."""

    READ = "read", "Read"
    WRITE = "write", "Write"
    EXECUTE = "execute", "Execute"


# read < write < execute: a grant covers an action when its rank is at least the action's.
TOOL_ACCESS_RANK = {ToolAccess.READ: 0, ToolAccess.WRITE: 1, ToolAccess.EXECUTE: 2}


def widest_access(supports_write: bool, supports_execute: bool) -> str:
    """The widest access the tool catalog allows a grant of a tool with these flags."""
    if supports_execute:
        return ToolAccess.EXECUTE
    return ToolAccess.WRITE if supports_write else ToolAccess.READ


def access_covers(granted: str, needed: str) -> bool:
    """Whether a grant of ``granted`` access covers an action needing ``needed`` access."""
    return TOOL_ACCESS_RANK[granted] >= TOOL_ACCESS_RANK[needed]


class McpTransport(models.TextChoices):
    STREAMABLE_HTTP = "streamable_http", "Streamable HTTP"
    SSE = "sse", "Server-sent events (legacy)"


class McpScanStatus(models.TextChoices):
    """What the last attempt to read an MCP server's tools found. Unreachable is never "no tools"."""

    NEVER = "never", "Not scanned yet"
    REACHABLE = "reachable", "Reachable"
    UNREACHABLE = "unreachable", "Unreachable"


MCP_SCAN_STATUS_COLORS = {
    McpScanStatus.NEVER: "gray",
    McpScanStatus.REACHABLE: "green",
    McpScanStatus.UNREACHABLE: "red",
}


class McpApproval(models.TextChoices):
    """Where an MCP server stands with the governance board (derived from its approval and its tools)."""

    AWAITING = "awaiting", "Awaiting board approval"
    APPROVED = "approved", "Approved"
    CHANGES_PENDING = "changes_pending", "Changes awaiting the board"


MCP_APPROVAL_COLORS = {
    McpApproval.AWAITING: "yellow",
    McpApproval.APPROVED: "green",
    McpApproval.CHANGES_PENDING: "orange",
}


class McpToolChange(models.TextChoices):
    """How the last scan differs from what the board approved for one tool (empty: no difference)."""

    NONE = "", "As approved"
    ADDED = "added", "New tool"
    CHANGED = "changed", "Changed"
    REMOVED = "removed", "Removed from the server"


MCP_TOOL_CHANGE_COLORS = {
    McpToolChange.NONE: "green",
    McpToolChange.ADDED: "yellow",
    McpToolChange.CHANGED: "orange",
    McpToolChange.REMOVED: "gray",
}


def access_from_annotations(annotations: dict | None) -> str:
    """The access an MCP tool needs, from its annotations: read-only -> read, destructive -> execute,
    otherwise write.

    Missing hints take the MCP specification's defaults (``readOnlyHint`` false, ``destructiveHint``
    true): a tool that says nothing about itself is treated as destructive, so it needs execute.
    """
    annotations = annotations or {}
    if annotations.get("readOnlyHint") is True:
        return ToolAccess.READ
    if annotations.get("destructiveHint", True) is not False:
        return ToolAccess.EXECUTE
    return ToolAccess.WRITE


class StopScope(models.TextChoices):
    """What a stop covers: one agent, or every agent of a unit or pattern, or every use of a tool or MCP server."""

    AGENT = "agent", "Agent"
    BUSINESS_UNIT = "business_unit", "Business unit"
    PATTERN = "pattern", "Pattern"
    TOOL = "tool", "Tool"
    MCP_SERVER = "mcp_server", "MCP server"


STOP_SCOPE_COLORS = {
    StopScope.AGENT: "red",
    StopScope.BUSINESS_UNIT: "orange",
    StopScope.PATTERN: "orange",
    StopScope.TOOL: "purple",
    StopScope.MCP_SERVER: "purple",
}


class AuditEventType(models.TextChoices):
    AGENT_CREATED = "agent.created", "Agent registered"
    AGENT_CHANGED = "agent.changed", "Agent changed"
    AGENT_TRANSITIONED = "agent.transitioned", "Lifecycle changed"
    AGENT_OWNER_TRANSFERRED = "agent.owner_transferred", "Ownership transferred"
    AGENT_DELEGATE_GRANTED = "agent.delegate_granted", "Delegate granted"
    AGENT_DELEGATE_REVOKED = "agent.delegate_revoked", "Delegate revoked"
    VERSION_CREATED = "version.created", "Version added"
    VERSION_CHANGED = "version.changed", "Version changed"
    BUSINESS_UNIT_CREATED = "business_unit.created", "Business unit created"
    BUSINESS_UNIT_CHANGED = "business_unit.changed", "Business unit changed"
    STOP_STARTED = "stop.started", "Stop started"
    STOP_LIFTED = "stop.lifted", "Stop lifted"
    TOOL_CREATED = "tool.created", "Tool added to catalog"
    TOOL_CHANGED = "tool.changed", "Tool changed"
    MCP_SERVER_REGISTERED = "mcp_server.registered", "MCP server registered"
    MCP_SERVER_CHANGED = "mcp_server.changed", "MCP server changed"
    MCP_SERVER_SCANNED = "mcp_server.scanned", "MCP server scanned"
    MCP_SERVER_APPROVED = "mcp_server.approved", "MCP server approved by the board"
    USER_CREATED = "user.created", "User created"
    USER_CHANGED = "user.changed", "User changed"
    USER_ROLES_CHANGED = "user.roles_changed", "Roles changed"
    USER_DEACTIVATED = "user.deactivated", "User deactivated"
    API_TOKEN_CREATED = "api_token.created", "API token created"
    API_TOKEN_REVOKED = "api_token.revoked", "API token revoked"
    AUTH_LOGIN = "auth.login", "Signed in"
    AUTH_LOGIN_FAILED = "auth.login_failed", "Sign-in failed"
    AUTH_LOGOUT = "auth.logout", "Signed out"
    AUTH_REFUSED = "auth.refused", "Access refused"
    # Event types of upper layers (governance, portfolio) are free-form strings
    # of the same "<noun>.<verb>" shape; the column is not limited to this list.


class HandoverStatus(models.TextChoices):
    """Where a proposal to hand a deprovisioned owner's agent to another person stands."""

    PENDING = "pending", "Awaiting answer"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    REASSIGNED = "reassigned", "Reassigned by the board"
    CLOSED = "closed", "Closed (agent retired or transferred)"


HANDOVER_STATUS_COLORS = {
    HandoverStatus.PENDING: "yellow",
    HandoverStatus.ACCEPTED: "green",
    HandoverStatus.DECLINED: "red",
    HandoverStatus.REASSIGNED: "blue",
    HandoverStatus.CLOSED: "gray",
}


class HandoverBasis(models.TextChoices):
    """Why the proposed person was chosen."""

    MANAGER = "manager", "Manager in the directory"
    UNIT_HEAD = "unit_head", "Head of the agent's unit"
    BOARD = "board", "Chosen by the governance board"
    NONE = "none", "Nobody found: the board must choose"


class DirectoryEventType(models.TextChoices):
    """Audit event types of directory sync (SCIM) and handovers."""

    USER_PROVISIONED = "directory.user_provisioned", "Person provisioned from the directory"
    USER_SYNCED = "directory.user_synced", "Person updated from the directory"
    USER_DEPROVISIONED = "directory.user_deprovisioned", "Person deprovisioned by the directory"
    USER_MOVED_UNIT = "directory.user_moved_unit", "Person moved to another unit"
    GROUP_CHANGED = "directory.group_changed", "Directory group changed"
    GROUP_DELETED = "directory.group_deleted", "Directory group deleted"
    GROUP_ROLE_MAPPED = "directory.group_role_mapped", "Group mapped to a role"
    GROUP_ROLE_UNMAPPED = "directory.group_role_unmapped", "Group no longer mapped to a role"
    SCIM_TOKEN_CREATED = "scim_token.created", "SCIM token created"
    SCIM_TOKEN_REVOKED = "scim_token.revoked", "SCIM token revoked"
    HANDOVER_PROPOSED = "handover.proposed", "Handover proposed"
    HANDOVER_ACCEPTED = "handover.accepted", "Handover accepted"
    HANDOVER_DECLINED = "handover.declined", "Handover declined"
    HANDOVER_REASSIGNED = "handover.reassigned", "Handover reassigned"
