"""The governance vocabulary. Values are stable lowercase strings; labels are for people.

Each enumeration has a badge-colour map beside it for templates.
"""

from django.db import models


class EUAIActCategory(models.TextChoices):
    PROHIBITED = "prohibited", "Prohibited (Art. 5)"
    HIGH_RISK = "high_risk", "High-risk (Annex III)"
    TRANSPARENCY = "transparency", "Transparency obligations (Art. 50)"
    MINIMAL = "minimal", "Minimal risk"
    NOT_APPLICABLE = "not_applicable", "Out of scope"


EU_AI_ACT_COLORS = {
    EUAIActCategory.PROHIBITED: "red",
    EUAIActCategory.HIGH_RISK: "orange",
    EUAIActCategory.TRANSPARENCY: "yellow",
    EUAIActCategory.MINIMAL: "green",
    EUAIActCategory.NOT_APPLICABLE: "gray",
}


class ActionImpact(models.TextChoices):
    READ_ONLY = "read_only", "Read-only"
    INTERNAL_REVERSIBLE = "internal_reversible", "Internal and reversible"
    PRODUCTION_AFFECTING = "production_affecting", "Affects production systems"
    FINANCIAL_LEGAL = "financial_legal", "Financial or legal consequences"


class PeopleAffected(models.TextChoices):
    UNDER_100 = "under_100", "Fewer than 100 people"
    UNDER_10000 = "under_10000", "Fewer than 10,000 people"
    MORE = "more", "10,000 people or more"


class AssessmentStatus(models.TextChoices):
    SUBMITTED = "submitted", "Awaiting confirmation"
    CONFIRMED = "confirmed", "Confirmed"
    RETURNED = "returned", "Returned to owner"
    SUPERSEDED = "superseded", "Superseded"


ASSESSMENT_STATUS_COLORS = {
    AssessmentStatus.SUBMITTED: "blue",
    AssessmentStatus.CONFIRMED: "green",
    AssessmentStatus.RETURNED: "orange",
    AssessmentStatus.SUPERSEDED: "gray",
}


class Validity(models.TextChoices):
    DAYS = "days", "A number of days"
    PER_RELEASE = "per_release", "Per release (tied to one version)"
    UNTIL_CHANGED = "until_changed", "Until the relevant facts change"
    SYSTEM = "system", "Verified by the system"


class NistFunction(models.TextChoices):
    GOVERN = "govern", "Govern"
    MAP = "map", "Map"
    MEASURE = "measure", "Measure"
    MANAGE = "manage", "Manage"


class EvidenceKind(models.TextChoices):
    LINK = "link", "Link"
    FILE = "file", "Uploaded file"
    STATEMENT = "statement", "Written statement"


class EvidenceStatus(models.TextChoices):
    """Stored states. ``missing`` and ``expired`` are derived (see Evidence.state)."""

    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"


class ControlState(models.TextChoices):
    """The state of one required control of one agent, as the checklist shows it."""

    MISSING = "missing", "Missing"
    SUBMITTED = "submitted", "Submitted, awaiting review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    WAIVED = "waived", "Waived"
    SATISFIED = "satisfied", "Verified by the system"
    FAILING = "failing", "Failing (system check)"
    UNKNOWN = "unknown", "Not yet reporting"


CONTROL_STATE_COLORS = {
    ControlState.MISSING: "red",
    ControlState.SUBMITTED: "blue",
    ControlState.ACCEPTED: "green",
    ControlState.REJECTED: "red",
    ControlState.EXPIRED: "orange",
    ControlState.WAIVED: "purple",
    ControlState.SATISFIED: "green",
    ControlState.FAILING: "red",
    ControlState.UNKNOWN: "gray",
}
EVIDENCE_STATE_COLORS = CONTROL_STATE_COLORS

# Control states that count as covered at the release gate.
COVERED_STATES = (ControlState.ACCEPTED, ControlState.WAIVED, ControlState.SATISFIED)


class ReviewKind(models.TextChoices):
    RELEASE = "release", "Release review"
    PERIODIC = "periodic", "Periodic review"


class ReviewStatus(models.TextChoices):
    OPEN = "open", "Awaiting decision"
    DECIDED = "decided", "Decided"
    CANCELLED = "cancelled", "Cancelled"


REVIEW_STATUS_COLORS = {
    ReviewStatus.OPEN: "blue",
    ReviewStatus.DECIDED: "green",
    ReviewStatus.CANCELLED: "gray",
}


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions", "Approve with conditions"
    REJECT = "reject", "Reject"


DECISION_COLORS = {
    Decision.APPROVE: "green",
    Decision.APPROVE_WITH_CONDITIONS: "yellow",
    Decision.REJECT: "red",
}
APPROVING_DECISIONS = (Decision.APPROVE, Decision.APPROVE_WITH_CONDITIONS)


class ConditionStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Severity(models.TextChoices):
    """How serious an incident or a finding is; one scale for both, so they sort and filter alike."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


SEVERITY_COLORS = {
    Severity.LOW: "green",
    Severity.MEDIUM: "yellow",
    Severity.HIGH: "orange",
    Severity.CRITICAL: "red",
}
# Severities whose open incident lets the owner or board suspend the agent.
SUSPENDING_SEVERITIES = (Severity.HIGH, Severity.CRITICAL)


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


INCIDENT_STATUS_COLORS = {IncidentStatus.OPEN: "red", IncidentStatus.RESOLVED: "green"}


class GovernanceEvent(models.TextChoices):
    """Audit event types written by governance services ("<noun>.<verb>")."""

    POLICY_PUBLISHED = "policy.published", "Policy version published"
    ASSESSMENT_SUBMITTED = "assessment.submitted", "Risk assessment submitted"
    ASSESSMENT_CONFIRMED = "assessment.confirmed", "Risk assessment confirmed"
    ASSESSMENT_RETURNED = "assessment.returned", "Risk assessment returned"
    ASSESSMENT_STALE = "assessment.stale", "Risk assessment marked stale"
    EVIDENCE_SUBMITTED = "evidence.submitted", "Evidence submitted"
    EVIDENCE_ACCEPTED = "evidence.accepted", "Evidence accepted"
    EVIDENCE_REJECTED = "evidence.rejected", "Evidence rejected"
    EVIDENCE_INVALIDATED = "evidence.invalidated", "Evidence invalidated by a change"
    REVIEW_REQUESTED = "review.requested", "Review requested"
    REVIEW_SCHEDULED = "review.scheduled", "Periodic review scheduled"
    REVIEW_DECIDED = "review.decided", "Review decided"
    REVIEW_CANCELLED = "review.cancelled", "Review cancelled"
    CONDITION_CLOSED = "condition.closed", "Condition closed"
    RELEASE_APPROVED = "release.approved", "Release approved"
    RELEASE_DEPLOYED = "release.deployed", "Release deployed"
    INCIDENT_REPORTED = "incident.reported", "Incident reported"
    INCIDENT_CHANGED = "incident.changed", "Incident updated"
    INCIDENT_RESOLVED = "incident.resolved", "Incident resolved"
    WAIVER_GRANTED = "waiver.granted", "Waiver granted"
    WAIVER_REVOKED = "waiver.revoked", "Waiver revoked"
    INCIDENT_MARKED_SERIOUS = "incident.marked_serious", "Incident marked serious (Art. 73)"
    INCIDENT_AUTHORITY_REPORTED = "incident.authority_reported", "Serious incident reported to the authority"
    FRIA_SUBMITTED = "fria.submitted", "Fundamental-rights impact assessment submitted"
    DRIFT_POLICY_UPDATED = "drift_policy.updated", "Drift and budget parameters changed"
    BUDGET_SET = "budget.set", "Budget set"
    BUDGET_REMOVED = "budget.removed", "Budget removed"


# --- Findings and background checks (telemetry helper) ----------------------------


class FindingKind(models.TextChoices):
    SHADOW_AGENT = "shadow_agent", "Shadow agent"
    UNAPPROVED_IN_PRODUCTION = "unapproved_in_production", "Unapproved in production"
    LAPSED_MONITORING = "lapsed_monitoring", "Monitoring lapsed"
    REVIEW_OVERDUE = "review_overdue", "Review overdue"
    ORPHANED_OWNER = "orphaned_owner", "Orphaned owner"
    CONTROL_GAP = "control_gap", "Control gap"
    EVIDENCE_EXPIRED = "evidence_expired", "Evidence expired"
    # Raised by the portfolio layer's check (registered through governance.hooks.check_providers).
    MATURITY_TRAP = "maturity_trap", "Maturity trap"
    NO_SUCCESS_METRIC = "no_success_metric", "No success metric"
    LOW_ADOPTION = "low_adoption", "Low adoption"
    # Kinds of the runtime, registration, continuity, drift and EU AI Act capabilities; each is raised
    # by the check or service of the capability that owns it.
    UNGRANTED_TOOL_USE = "ungranted_tool_use", "Ungranted tool use"
    TELEMETRY_REJECTED = "telemetry_rejected", "Telemetry rejected"
    MCP_TOOL_CHANGED = "mcp_tool_changed", "MCP tool changed"
    ATTESTATION_OVERDUE = "attestation_overdue", "Attestation overdue"
    DORMANT_AGENT = "dormant_agent", "Dormant agent"
    DRIFT = "drift", "Drift"
    BUDGET_OVERRUN = "budget_overrun", "Budget overrun"
    INCIDENT_REPORT_DUE = "incident_report_due", "Incident report due"


FINDING_KIND_COLORS = {
    FindingKind.SHADOW_AGENT: "purple",
    FindingKind.UNAPPROVED_IN_PRODUCTION: "red",
    FindingKind.LAPSED_MONITORING: "orange",
    FindingKind.REVIEW_OVERDUE: "yellow",
    FindingKind.ORPHANED_OWNER: "red",
    FindingKind.CONTROL_GAP: "orange",
    FindingKind.EVIDENCE_EXPIRED: "yellow",
    FindingKind.MATURITY_TRAP: "indigo",
    FindingKind.NO_SUCCESS_METRIC: "blue",
    FindingKind.LOW_ADOPTION: "teal",
    FindingKind.UNGRANTED_TOOL_USE: "red",
    FindingKind.TELEMETRY_REJECTED: "orange",
    FindingKind.MCP_TOOL_CHANGED: "purple",
    FindingKind.ATTESTATION_OVERDUE: "yellow",
    FindingKind.DORMANT_AGENT: "gray",
    FindingKind.DRIFT: "orange",
    FindingKind.BUDGET_OVERRUN: "yellow",
    FindingKind.INCIDENT_REPORT_DUE: "red",
}


class FindingState(models.TextChoices):
    """What a finding's row says about it (derived from its timestamps)."""

    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    WAIVED = "waived", "Waived"
    RESOLVED = "resolved", "Resolved"


FINDING_STATE_COLORS = {
    FindingState.OPEN: "red",
    FindingState.ACKNOWLEDGED: "yellow",
    FindingState.WAIVED: "purple",
    FindingState.RESOLVED: "green",
}


class FindingEventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    UPDATED = "updated", "Details changed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    WAIVED = "waived", "Waived"
    NOTIFIED = "notified", "Owner notified"
    RESOLVED = "resolved", "Resolved"


class CheckRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


CHECK_RUN_STATUS_COLORS = {
    CheckRunStatus.RUNNING: "blue",
    CheckRunStatus.SUCCEEDED: "green",
    CheckRunStatus.FAILED: "red",
}


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Gave up"


DELIVERY_STATUS_COLORS = {
    DeliveryStatus.PENDING: "blue",
    DeliveryStatus.DELIVERED: "green",
    DeliveryStatus.FAILED: "red",
}


class Enforcement(models.TextChoices):
    """What happens to an agent whose owner has not answered an attestation campaign after the grace period."""

    NONE = "none", "Nothing (report only)"
    FINDING = "finding", "Raise a finding"
    STOP = "stop", "Raise a finding and stop the agent"


class AttestationItem(models.TextChoices):
    """The facts a campaign asks owners to confirm."""

    OWNER = "owner", "Owner"
    PURPOSE = "purpose", "Purpose and boundaries"
    TOOLS = "tools", "Tools and access"
    DATA = "data", "Data classification"
    AUTONOMY = "autonomy", "Autonomy"
    STILL_NEEDED = "still_needed", "Still needed"


class AttestationAnswer(models.TextChoices):
    PENDING = "pending", "Not answered"
    UNCHANGED = "unchanged", "Confirmed unchanged"
    CHANGED = "changed", "Changed"
    RETIRE = "retire", "Retire"


ATTESTATION_ANSWER_COLORS = {
    AttestationAnswer.PENDING: "yellow",
    AttestationAnswer.UNCHANGED: "green",
    AttestationAnswer.CHANGED: "blue",
    AttestationAnswer.RETIRE: "gray",
}


class ContinuityEvent(models.TextChoices):
    """Audit event types of attestation campaigns and dormant agents."""

    CAMPAIGN_OPENED = "campaign.opened", "Attestation campaign opened"
    CAMPAIGN_REMINDED = "campaign.reminded", "Attestation reminders sent"
    ATTESTATION_ANSWERED = "attestation.answered", "Attestation answered"
    ATTESTATION_ENFORCED = "attestation.enforced", "Attestation overdue: enforcement applied"
    DORMANT_KEPT = "dormant.kept", "Dormant agent kept"


# --- EU AI Act in operation ---------------------------------------------------------------------


class SeriousIncidentCategory(models.TextChoices):
    """The kinds of serious incident of Art. 3(49), split where the report deadline differs (Art. 73)."""

    DEATH = "death", "Death of a person (Art. 3(49)(a))"
    HEALTH = "health", "Serious harm to a person's health (Art. 3(49)(a))"
    CRITICAL_INFRASTRUCTURE = (
        "critical_infrastructure",
        "Serious and irreversible disruption of critical infrastructure (Art. 3(49)(b))",
    )
    WIDESPREAD_INFRINGEMENT = (
        "widespread_infringement",
        "Widespread infringement of fundamental-rights obligations (Art. 3(49)(c), 3(61))",
    )
    FUNDAMENTAL_RIGHTS = "fundamental_rights", "Infringement of fundamental-rights obligations (Art. 3(49)(c))"
    PROPERTY_ENVIRONMENT = "property_environment", "Serious harm to property or the environment (Art. 3(49)(d))"


SERIOUS_INCIDENT_COLORS = {
    SeriousIncidentCategory.DEATH: "red",
    SeriousIncidentCategory.HEALTH: "red",
    SeriousIncidentCategory.CRITICAL_INFRASTRUCTURE: "red",
    SeriousIncidentCategory.WIDESPREAD_INFRINGEMENT: "red",
    SeriousIncidentCategory.FUNDAMENTAL_RIGHTS: "orange",
    SeriousIncidentCategory.PROPERTY_ENVIRONMENT: "orange",
}


class AuthorityReportKind(models.TextChoices):
    INITIAL = "initial", "Initial report (may be incomplete)"
    FOLLOW_UP = "follow_up", "Follow-up report"
    FINAL = "final", "Final report"


AUTHORITY_REPORT_COLORS = {
    AuthorityReportKind.INITIAL: "blue",
    AuthorityReportKind.FOLLOW_UP: "yellow",
    AuthorityReportKind.FINAL: "green",
}


class ReportClockStage(models.TextChoices):
    """Where a serious incident's report clock stands; each stage past ``running`` alerts the board once."""

    RUNNING = "running", "Clock running"
    HALF = "half", "Half the time gone (50%)"
    NEARLY_MISSED = "nearly_missed", "Nearly missed (90%)"
    MISSED = "missed", "Deadline missed"
    REPORTED = "reported", "Reported in time"
    REPORTED_LATE = "reported_late", "Reported late"


REPORT_CLOCK_COLORS = {
    ReportClockStage.RUNNING: "blue",
    ReportClockStage.HALF: "yellow",
    ReportClockStage.NEARLY_MISSED: "orange",
    ReportClockStage.MISSED: "red",
    ReportClockStage.REPORTED: "green",
    ReportClockStage.REPORTED_LATE: "orange",
}
