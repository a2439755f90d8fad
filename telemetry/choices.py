"""The telemetry vocabulary: source kinds and event kinds, with badge colours."""

from django.db import models


class SourceKind(models.TextChoices):
    GATEWAY = "gateway", "AI gateway"
    COLLECTOR = "collector", "OpenTelemetry collector"
    PLATFORM = "platform", "Agent platform"
    SDK = "sdk", "Agent SDK or framework"
    OTHER = "other", "Other"


SOURCE_KIND_COLORS = {
    SourceKind.GATEWAY: "indigo",
    SourceKind.COLLECTOR: "blue",
    SourceKind.PLATFORM: "teal",
    SourceKind.SDK: "purple",
    SourceKind.OTHER: "gray",
}


class EventKind(models.TextChoices):
    HEARTBEAT = "heartbeat", "Heartbeat"
    INVOCATION = "invocation", "Invocation"
    ERROR = "error", "Error"
    TOOL_CALL = "tool_call", "Tool call"
    ESCALATION = "escalation", "Escalation"
    # Reported only through OpenTelemetry: a chat/completion span carrying token usage.
    MODEL_CALL = "model_call", "Model call"
    # Reported only through OpenTelemetry: a span that carries evaluation results and nothing else to count.
    EVALUATION = "evaluation", "Evaluation"


EVENT_KIND_COLORS = {
    EventKind.HEARTBEAT: "gray",
    EventKind.INVOCATION: "blue",
    EventKind.ERROR: "red",
    EventKind.TOOL_CALL: "teal",
    EventKind.ESCALATION: "orange",
    EventKind.MODEL_CALL: "indigo",
    EventKind.EVALUATION: "purple",
}

# Kinds a JSON batch may send (model calls arrive through OTLP spans only).
BATCH_EVENT_KINDS = (
    EventKind.HEARTBEAT,
    EventKind.INVOCATION,
    EventKind.ERROR,
    EventKind.TOOL_CALL,
    EventKind.ESCALATION,
)


class TelemetryEnvironment(models.TextChoices):
    """The environment a report is filed under: the registry's three, or ``unspecified`` when the
    sender named none (and its source sets no default) or named one the alias table does not know.
    For severity and monitoring, unspecified counts as production: an unlabelled agent is assumed live."""

    DEVELOPMENT = "development", "Development"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    UNSPECIFIED = "unspecified", "Unspecified"


TELEMETRY_ENVIRONMENT_COLORS = {
    TelemetryEnvironment.DEVELOPMENT: "gray",
    TelemetryEnvironment.STAGING: "blue",
    TelemetryEnvironment.PRODUCTION: "indigo",
    TelemetryEnvironment.UNSPECIFIED: "orange",
}

# Environments read as production for severity and monitoring (the safe reading of an unlabelled agent).
LIVE_ENVIRONMENTS = (TelemetryEnvironment.PRODUCTION, TelemetryEnvironment.UNSPECIFIED)

# The default alias table (domain reference, Telemetry): a label, or a prefix ending in ``*``, to the
# environment it means. Labels compare case-insensitively; a source's own table is read first.
DEFAULT_ENVIRONMENT_ALIASES = {
    "production": "production",
    "prod": "production",
    "prd": "production",
    "live": "production",
    "production-*": "production",
    "prod-*": "production",
    "staging": "staging",
    "stage": "staging",
    "stg": "staging",
    "staging-*": "staging",
    "uat": "staging",
    "qa": "staging",
    "test": "staging",
    "preprod": "staging",
    "development": "development",
    "dev": "development",
    "development-*": "development",
    "local": "development",
    "sandbox": "development",
}


class RejectionReason(models.TextChoices):
    """Why an ingest endpoint refused a report (or could not attribute it)."""

    NO_IDENTITY = "no_identity", "No agent identity"
    BAD_TIME = "bad_time", "Time outside the accepted range"
    INVALID_FIELD = "invalid_field", "Invalid field"
    UNATTRIBUTED = "unattributed", "Agent span never arrived"
    MALFORMED = "malformed", "Malformed request"
    TOO_LARGE = "too_large", "Body too large"


REJECTION_REASON_COLORS = {
    RejectionReason.NO_IDENTITY: "orange",
    RejectionReason.BAD_TIME: "yellow",
    RejectionReason.INVALID_FIELD: "red",
    RejectionReason.UNATTRIBUTED: "purple",
    RejectionReason.MALFORMED: "red",
    RejectionReason.TOO_LARGE: "red",
}


class MonitoringStatus(models.TextChoices):
    NOT_WATCHED = "not_watched", "Not watched"
    REPORTING = "reporting", "Reporting"
    LAPSED = "lapsed", "Lapsed"
    NEVER_REPORTED = "never_reported", "Never reported"


MONITORING_STATUS_COLORS = {
    MonitoringStatus.NOT_WATCHED: "gray",
    MonitoringStatus.REPORTING: "green",
    MonitoringStatus.LAPSED: "red",
    MonitoringStatus.NEVER_REPORTED: "orange",
}
