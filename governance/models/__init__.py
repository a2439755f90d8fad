"""Governance models, one module per concern; import them from ``governance.models``."""

from governance.models.assessments import RiskAssessment
from governance.models.continuity import Attestation, AttestationCampaign, AttestationReminder, DormancyKeep
from governance.models.controls import Waiver
from governance.models.costs import Budget, DriftPolicy
from governance.models.eu_ai_act import FundamentalRightsAssessment
from governance.models.evidence import Evidence
from governance.models.findings import CheckRun, DigestLog, Finding, FindingEvent, WebhookDelivery, WebhookEndpoint
from governance.models.incidents import AuthorityReport, Incident, ReportClockAlert
from governance.models.policy import Control, RiskPolicy
from governance.models.reviews import Release, Review, ReviewCondition

__all__ = [
    "Attestation",
    "AttestationCampaign",
    "AttestationReminder",
    "DormancyKeep",
    "AuthorityReport",
    "ReportClockAlert",
    "Budget",
    "DriftPolicy",
    "CheckRun",
    "DigestLog",
    "Finding",
    "FindingEvent",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Control",
    "Evidence",
    "FundamentalRightsAssessment",
    "Incident",
    "Release",
    "Review",
    "ReviewCondition",
    "RiskAssessment",
    "RiskPolicy",
    "Waiver",
]
