"""EU AI Act documents kept as records: the fundamental-rights impact assessment (Art. 27)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from governance.querysets import FundamentalRightsAssessmentQuerySet

FRIA_FIELDS = (
    "process_and_purpose",
    "period_and_frequency",
    "people_affected",
    "risks_of_harm",
    "oversight_measures",
    "materialisation_measures",
)


class FundamentalRightsAssessment(models.Model):
    """One fundamental-rights impact assessment of a high-risk agent, as submitted (Art. 27(1)(a)-(f)).

    Submitting it creates its PDF as evidence for the ``fria`` control, which the board reviews like
    any other evidence; a later assessment supersedes the earlier one the same way."""

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="fundamental_rights_assessments")
    evidence = models.OneToOneField(
        "governance.Evidence", on_delete=models.PROTECT, related_name="fundamental_rights_assessment"
    )
    process_and_purpose = models.TextField(
        max_length=8000,
        help_text="The deployer's processes in which the agent is used, and its purpose (Art. 27(1)(a)).",
    )
    period_and_frequency = models.TextField(
        max_length=4000, help_text="The period of time and frequency of use (Art. 27(1)(b))."
    )
    people_affected = models.TextField(
        max_length=4000, help_text="The categories of people and groups likely to be affected (Art. 27(1)(c))."
    )
    risks_of_harm = models.TextField(
        max_length=8000, help_text="The specific risks of harm to those categories (Art. 27(1)(d))."
    )
    oversight_measures = models.TextField(
        max_length=8000, help_text="The human-oversight measures, as in the instructions for use (Art. 27(1)(e))."
    )
    materialisation_measures = models.TextField(
        max_length=8000,
        help_text="What is done when the risks materialise: internal governance and complaints (Art. 27(1)(f)).",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField()

    objects = FundamentalRightsAssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "-submitted_at", "-id"]
        verbose_name = "fundamental-rights impact assessment"
        constraints = [
            models.CheckConstraint(
                condition=Q(*[~Q(**{name: ""}) for name in FRIA_FIELDS]), name="fria_every_answer_given"
            ),
        ]

    def __str__(self) -> str:
        return f"FRIA of {self.agent} ({self.submitted_at:%Y-%m-%d})"
