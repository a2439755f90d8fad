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

# Environment spellings collectors commonly use, mapped to the registry's environments.
ENVIRONMENT_ALIASES = {
    "development": "development",
    "dev": "development",
    "staging": "staging",
    "stage": "staging",
    "stg": "staging",
    "production": "production",
    "prod": "production",
    "prd": "production",
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
