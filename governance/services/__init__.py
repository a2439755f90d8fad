"""Every write of the governance layer goes through these functions (one module per concern).

Each runs in one transaction, checks that the actor may do it, validates,
writes its audit entry in the same transaction and returns the instance.
"""

from governance.services.assessments import (
    RISK_FACTS,
    confirm_assessment,
    invalidate_until_changed_evidence,
    mark_assessment_stale,
    return_assessment,
    submit_assessment,
)
from governance.services.costs import remove_budget, set_agent_budget, set_unit_budget, update_drift_policy
from governance.services.evidence import ALLOWED_UPLOADS, accept_evidence, reject_evidence, submit_evidence
from governance.services.fria import fria_applies, submit_fria
from governance.services.incidents import (
    grant_waiver,
    report_incident,
    resolve_incident,
    revoke_waiver,
    suspend_for_incident,
    update_incident,
)
from governance.services.policy import publish_policy, set_obligation_dates
from governance.services.reviews import (
    cancel_review,
    close_condition,
    decide_review,
    deploy_release,
    ensure_periodic_review,
    mark_deployed,
    request_release_review,
    schedule_periodic_review,
)
from governance.services.serious_incidents import mark_incident_serious, record_authority_report

__all__ = [
    "remove_budget",
    "set_agent_budget",
    "set_unit_budget",
    "update_drift_policy",
    "ALLOWED_UPLOADS",
    "RISK_FACTS",
    "accept_evidence",
    "cancel_review",
    "close_condition",
    "confirm_assessment",
    "decide_review",
    "deploy_release",
    "ensure_periodic_review",
    "fria_applies",
    "grant_waiver",
    "invalidate_until_changed_evidence",
    "mark_incident_serious",
    "record_authority_report",
    "mark_assessment_stale",
    "mark_deployed",
    "publish_policy",
    "reject_evidence",
    "report_incident",
    "resolve_incident",
    "request_release_review",
    "return_assessment",
    "revoke_waiver",
    "schedule_periodic_review",
    "set_obligation_dates",
    "submit_assessment",
    "submit_evidence",
    "submit_fria",
    "suspend_for_incident",
    "update_incident",
]
