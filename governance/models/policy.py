"""Versioned policy: the scoring rules, cadences and control catalog every decision is made under."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from governance.choices import NistFunction, Validity
from governance.defaults import default_eu_ai_act_timeline, default_incident_report_days
from governance.querysets import ControlQuerySet, RiskPolicyQuerySet
from registry.choices import RISK_TIER_ORDER, RiskTier


class RiskPolicy(models.Model):
    """One published version of the risk policy. Never changed once published.

    Editing the policy (or any control of its catalog) publishes a new version
    with a higher number; assessments and decisions keep pointing at the version
    they used, so any tier or requirement can be reproduced later. The newest
    version is the one in force.

    ``weights``: factor -> {answer value: points}. ``thresholds``: tier ->
    minimum score. ``pattern_floors``: pattern -> minimum tier.
    ``autonomy_floors``: list of {"autonomy_level", "with_any": [...], "tier"}.
    ``eu_ai_act``: category -> {"tier_floor", "blocks_approval"}.
    ``cadences``: tier -> {"review_days", "silence_production_hours",
    "silence_pilot_hours"}.
    ``incident_report_days``: serious-incident category -> days from awareness to report (Art. 73).
    ``eu_ai_act_timeline``: list of {"code", "title", "applies_from" (ISO date), "categories"}.
    """

    version = models.PositiveIntegerField(unique=True, validators=[MinValueValidator(1)])
    notes = models.TextField(max_length=4000, blank=True, help_text="What changed in this version and why.")
    weights = models.JSONField()
    thresholds = models.JSONField()
    pattern_floors = models.JSONField(default=dict)
    autonomy_floors = models.JSONField(default=list)
    eu_ai_act = models.JSONField(default=dict)
    cadences = models.JSONField()
    incident_report_days = models.JSONField(default=default_incident_report_days)
    eu_ai_act_timeline = models.JSONField(default=default_eu_ai_act_timeline)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = RiskPolicyQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "risk policies"

    def __str__(self) -> str:
        return f"Risk policy v{self.version}"

    def cadence_rows(self) -> list[dict]:
        """The cadences per tier in tier order (low to critical), each with the tier's label."""
        rows = [{"tier": tier, "label": RiskTier(tier).label, **values} for tier, values in self.cadences.items()]
        return sorted(rows, key=lambda row: RISK_TIER_ORDER.get(row["tier"], len(RISK_TIER_ORDER)))


class Control(models.Model):
    """One control of one policy version's catalog: what it asks, who accepts it, how long it holds, when it applies.

    ``applies_when`` is the applicability rule as data: a list of clauses, any
    of which makes the control required (each matching clause gives one reason).
    Clause shapes: {"always": true}, {"tier_at_least": "medium"},
    {"mode": "execute"}, {"external_facing": true}, {"pattern": [...]},
    {"personal_or_regulated_data": true}, {"data_classification": [...]},
    {"eu_ai_act": [...]}.
    ``invalidated_by`` names the agent facts whose change ends "until changed" evidence.
    """

    policy = models.ForeignKey(RiskPolicy, on_delete=models.PROTECT, related_name="controls")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=150)
    guidance = models.TextField(max_length=4000, blank=True, help_text="What the owner should do.")
    evidence_expected = models.TextField(max_length=2000, blank=True, help_text="What evidence satisfies it.")
    accepting_role = models.CharField(max_length=40, default="governance_board")
    validity = models.CharField(max_length=16, choices=Validity.choices)
    validity_days = models.PositiveIntegerField(null=True, blank=True)
    applies_when = models.JSONField(default=list)
    invalidated_by = models.JSONField(default=list, blank=True)
    nist_function = models.CharField(max_length=16, choices=NistFunction.choices, blank=True)
    iso42001_area = models.CharField(max_length=120, blank=True, help_text="ISO/IEC 42001 Annex A area.")
    eu_ai_act_article = models.CharField(max_length=60, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=100)

    objects = ControlQuerySet.as_manager()

    class Meta:
        ordering = ["policy", "sort_order", "code"]
        indexes = [models.Index(fields=["policy", "sort_order", "code"], name="control_policy_order_idx")]
        constraints = [
            models.UniqueConstraint(fields=["policy", "code"], name="control_code_unique_per_policy"),
            models.CheckConstraint(condition=Q(validity__in=Validity.values), name="control_validity_valid"),
            models.CheckConstraint(
                condition=(Q(validity=Validity.DAYS) & Q(validity_days__gt=0))
                | (~Q(validity=Validity.DAYS) & Q(validity_days__isnull=True)),
                name="control_validity_days_iff_days",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    @property
    def is_system(self) -> bool:
        return self.validity == Validity.SYSTEM

    def validity_label(self) -> str:
        if self.validity == Validity.DAYS:
            return f"{self.validity_days} days"
        return Validity(self.validity).label
