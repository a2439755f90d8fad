"""Risk assessments: the questionnaire an owner answers and a board member confirms."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from governance.choices import ActionImpact, AssessmentStatus, EUAIActCategory, PeopleAffected
from governance.querysets import RiskAssessmentQuerySet
from registry.choices import AutonomyLevel, DataClassification, Pattern, RiskTier


class RiskAssessment(models.Model):
    """One risk assessment of one agent: the answers, the policy version it was scored under,
    the computed tier with its reasons, and the board's confirmation (and override, if any).

    The agent's facts (pattern, autonomy, external-facing, data) are copied into
    the answers when the owner submits, so the score can be reproduced even after
    the agent changes. A confirmed assessment becomes *stale* when one of those
    facts changes; a new one is then needed.
    """

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="risk_assessments")
    policy = models.ForeignKey("governance.RiskPolicy", on_delete=models.PROTECT, related_name="assessments")
    status = models.CharField(max_length=16, choices=AssessmentStatus.choices, default=AssessmentStatus.SUBMITTED)

    # Answers: facts copied from the agent ...
    pattern = models.CharField(max_length=32, choices=Pattern.choices)
    autonomy_level = models.PositiveSmallIntegerField(choices=AutonomyLevel.choices)
    external_facing = models.BooleanField()
    data_classification = models.CharField(max_length=16, choices=DataClassification.choices)
    personal_or_regulated_data = models.BooleanField()
    # ... and the questionnaire's own questions.
    action_impact = models.CharField(max_length=24, choices=ActionImpact.choices)
    irreversible_actions = models.BooleanField(help_text="Can the agent take actions that cannot be undone?")
    people_affected = models.CharField(max_length=16, choices=PeopleAffected.choices)
    eu_ai_act_category = models.CharField(max_length=16, choices=EUAIActCategory.choices)
    eu_ai_act_reason = models.TextField(max_length=2000, help_text="Why this category applies.")
    notes = models.TextField(max_length=4000, blank=True)

    # The result under ``policy``.
    score = models.PositiveSmallIntegerField()
    computed_tier = models.CharField(max_length=16, choices=RiskTier.choices)
    reasons = models.JSONField(default=list, help_text="How the score and floors produced the computed tier.")
    override_tier = models.CharField(max_length=16, choices=RiskTier.choices, blank=True)
    override_justification = models.TextField(max_length=4000, blank=True)
    return_reason = models.TextField(max_length=2000, blank=True)

    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    stale_at = models.DateTimeField(null=True, blank=True)
    stale_reason = models.CharField(max_length=500, blank=True)

    objects = RiskAssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["agent", "-submitted_at", "-id"], name="assessment_agent_recent_idx"),
            # The board queue: assessments awaiting confirmation.
            models.Index(fields=["submitted_at"], name="assessment_awaiting_idx", condition=Q(status="submitted")),
        ]
        constraints = [
            # At most one assessment in force and one awaiting confirmation per agent.
            models.UniqueConstraint(
                fields=["agent"], condition=Q(status="confirmed"), name="assessment_one_confirmed_per_agent"
            ),
            models.UniqueConstraint(
                fields=["agent"], condition=Q(status="submitted"), name="assessment_one_pending_per_agent"
            ),
            models.CheckConstraint(condition=Q(status__in=AssessmentStatus.values), name="assessment_status_valid"),
            models.CheckConstraint(
                condition=Q(eu_ai_act_category__in=EUAIActCategory.values), name="assessment_eu_ai_act_valid"
            ),
            models.CheckConstraint(
                condition=Q(override_tier="") | ~Q(override_justification=""),
                name="assessment_override_justified",
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(confirmed_at__isnull=False),
                name="assessment_confirmed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Risk assessment of {self.agent} ({self.submitted_at:%Y-%m-%d})"

    @property
    def tier(self) -> str:
        """The tier in force: the board's override where there is one, else the computed tier."""
        return self.override_tier or self.computed_tier

    @property
    def is_stale(self) -> bool:
        return self.stale_at is not None

    @property
    def is_current(self) -> bool:
        """Confirmed and not stale: what the release gate asks for."""
        return self.status == AssessmentStatus.CONFIRMED and self.stale_at is None

    @property
    def blocks_approval(self) -> bool:
        return self.eu_ai_act_category == EUAIActCategory.PROHIBITED

    def answers(self) -> dict:
        """The answers as the tier function reads them."""
        return {
            "pattern": self.pattern,
            "autonomy_level": self.autonomy_level,
            "external_facing": self.external_facing,
            "data_classification": self.data_classification,
            "personal_or_regulated_data": self.personal_or_regulated_data,
            "action_impact": self.action_impact,
            "irreversible_actions": self.irreversible_actions,
            "people_affected": self.people_affected,
            "eu_ai_act_category": self.eu_ai_act_category,
        }
