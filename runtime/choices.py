"""The runtime vocabulary: why a decision was refused, with badge colours."""

from django.db import models


class ReasonCode(models.TextChoices):
    """Why a decision is ``false``; ``allowed`` when it is ``true``. Checked in this order."""

    ALLOWED = "allowed", "Allowed"
    UNREGISTERED = "unregistered", "Unregistered agent"
    RETIRED = "retired", "Retired agent"
    NOT_IN_ENVIRONMENT = "not_in_environment", "Not allowed in this environment"
    STOPPED = "stopped", "Stopped"
    TOOL_NOT_GRANTED = "tool_not_granted", "Tool not granted"
    ACCESS_EXCEEDED = "access_exceeded", "Access exceeded"
    APPROVAL_REQUIRED = "approval_required", "Human approval required"
    OPEN_CRITICAL_FINDING = "open_critical_finding", "Open critical finding"
    MONITORING_LAPSED = "monitoring_lapsed", "Monitoring lapsed"


REASON_CODE_COLORS = {
    ReasonCode.ALLOWED: "green",
    ReasonCode.UNREGISTERED: "dark",
    ReasonCode.RETIRED: "gray",
    ReasonCode.NOT_IN_ENVIRONMENT: "yellow",
    ReasonCode.STOPPED: "red",
    ReasonCode.TOOL_NOT_GRANTED: "orange",
    ReasonCode.ACCESS_EXCEEDED: "orange",
    ReasonCode.APPROVAL_REQUIRED: "blue",
    ReasonCode.OPEN_CRITICAL_FINDING: "red",
    ReasonCode.MONITORING_LAPSED: "purple",
}

# What an end user may be told: short, and naming nothing internal.
USER_REASONS = {
    ReasonCode.ALLOWED: "Allowed.",
    ReasonCode.UNREGISTERED: "This agent is not registered, so it may not act.",
    ReasonCode.RETIRED: "This agent has been retired.",
    ReasonCode.NOT_IN_ENVIRONMENT: "This agent is not approved to run here.",
    ReasonCode.STOPPED: "This agent has been stopped by its operators.",
    ReasonCode.TOOL_NOT_GRANTED: "This agent may not use this tool.",
    ReasonCode.ACCESS_EXCEEDED: "This agent may not do that with this tool.",
    ReasonCode.APPROVAL_REQUIRED: "A person must approve this action first.",
    ReasonCode.OPEN_CRITICAL_FINDING: "This agent is on hold while a problem is resolved.",
    ReasonCode.MONITORING_LAPSED: "This agent is on hold until its monitoring reports again.",
}


class ActionCategory(models.TextChoices):
    """What the caller says an action is, in ``context.category``; the last two need a human at autonomy ≤ 3."""

    ROUTINE = "routine", "Routine"
    FINANCIAL = "financial", "Financial"
    LEGAL = "legal", "Legal"
