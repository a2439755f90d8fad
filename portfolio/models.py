"""The portfolio: maturity assessments per business unit, the policy of pattern
minimums, and the daily snapshots behind the leadership trend charts.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from portfolio.choices import DIMENSIONS, MaturityLevel
from portfolio.querysets import (
    MaturityAssessmentQuerySet,
    PatternMinimumQuerySet,
    PortfolioSnapshotQuerySet,
)
from registry.choices import Pattern


def _level_field(help_text: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        choices=MaturityLevel.choices,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=help_text,
    )


def _level_checks(prefix: str, fields=DIMENSIONS, suffix: str = "") -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(**{f"{name}{suffix}__gte": 1, f"{name}{suffix}__lte": 5}),
            name=f"{prefix}_{name}_1_5",
        )
        for name in fields
    ]


class MaturityAssessment(models.Model):
    """One dated, attributed maturity assessment of one business unit across the five dimensions.

    Assessments are never edited: a new assessment is a new row, so the unit's
    history stays readable. The unit's current maturity is its latest row; a
    unit without any inherits its closest assessed ancestor's.
    """

    business_unit = models.ForeignKey(
        "registry.BusinessUnit",
        on_delete=models.CASCADE,
        related_name="maturity_assessments",
    )
    assessed_on = models.DateField(help_text="The day the assessment describes.")
    strategy = _level_field("AI strategy and deliberate investment.")
    strategy_rationale = models.TextField(max_length=2000)
    process = _level_field("AI woven into business processes, outcomes measured.")
    process_rationale = models.TextField(max_length=2000)
    governance = _level_field("Risk, compliance and responsible-AI management.")
    governance_rationale = models.TextField(max_length=2000)
    technology = _level_field("Platforms, architecture and data quality.")
    technology_rationale = models.TextField(max_length=2000)
    adoption = _level_field("Enablement, change management and culture.")
    adoption_rationale = models.TextField(max_length=2000)
    notes = models.TextField(max_length=4000, blank=True)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # A copy of the assessor's name survives the account's deletion.
    assessed_by_repr = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MaturityAssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["business_unit", "-assessed_on", "-id"]
        indexes = [
            # "Latest assessment per unit" (reports.maturity_rows, services.find_maturity_traps).
            models.Index(fields=["business_unit", "-assessed_on", "-id"], name="maturity_unit_latest_idx"),
        ]
        constraints = _level_checks("maturity")

    def __str__(self) -> str:
        return f"{self.business_unit} on {self.assessed_on:%Y-%m-%d}"

    def scores(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in DIMENSIONS}

    def rationales(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_rationale") for name in DIMENSIONS}

    @property
    def overall(self) -> int:
        """The overall level: the weakest dimension, never the average."""
        return min(self.scores().values())

    @property
    def ceiling_dimensions(self) -> list[str]:
        """The dimensions at the overall level: what holds the unit back (the scale-breakers)."""
        low = self.overall
        return [name for name, value in self.scores().items() if value == low]

    def shortfalls(self, minimum: "PatternMinimum") -> list[tuple[str, int, int]]:
        """[(dimension, has, needs)] where this assessment falls below a pattern's minimum."""
        needs = minimum.levels()
        return [(name, have, needs[name]) for name, have in self.scores().items() if have < needs[name]]


class PatternMinimum(models.Model):
    """The minimum maturity one agent pattern needs in each dimension (policy data).

    Loaded with the default table by a data migration; platform administrators
    change it through ``services.update_pattern_minimum``, which bumps
    ``version`` and writes the before and after values to the audit trail.
    """

    pattern = models.CharField(max_length=32, choices=Pattern.choices, unique=True)
    strategy = _level_field("Minimum strategy level.")
    process = _level_field("Minimum process level.")
    governance = _level_field("Minimum governance level.")
    technology = _level_field("Minimum technology level.")
    adoption = _level_field("Minimum adoption level.")
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = PatternMinimumQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            *_level_checks("pattern_minimum"),
            models.CheckConstraint(condition=Q(pattern__in=Pattern.values), name="pattern_minimum_pattern_valid"),
        ]

    def __str__(self) -> str:
        return Pattern(self.pattern).label

    def levels(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in DIMENSIONS}


class PortfolioSnapshot(models.Model):
    """The portfolio as it stood on one day, taken by the daily beat task.

    Trend charts read these rows, so history does not depend on today's data.
    Organisation-wide figures that belong to no unit (shadow agents) live
    here; everything attributable to an agent lives in the lines.
    """

    taken_on = models.DateField(unique=True)
    taken_at = models.DateTimeField()
    open_shadow_agents = models.PositiveIntegerField(default=0)

    objects = PortfolioSnapshotQuerySet.as_manager()

    class Meta:
        # unique=True on taken_on already indexes the trend window scans.
        ordering = ["-taken_on"]
        permissions = [
            ("view_portfolio", "Can read the whole portfolio, its reports and exports"),
        ]

    def __str__(self) -> str:
        return f"Portfolio on {self.taken_on:%Y-%m-%d}"


class PortfolioSnapshotLine(models.Model):
    """The counts of one (business unit, pattern, risk tier) group of agents in one daily snapshot.

    Grouping by these three keeps every dashboard filter answerable from the
    history: a unit filter sums its sub-units' lines, pattern and tier filters
    pick lines. Groups without agents have no line.
    """

    snapshot = models.ForeignKey(PortfolioSnapshot, on_delete=models.CASCADE, related_name="lines")
    business_unit = models.ForeignKey("registry.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    pattern = models.CharField(max_length=32, choices=Pattern.choices)
    risk_tier = models.CharField(max_length=16, blank=True)
    agents = models.PositiveIntegerField(default=0)
    production_agents = models.PositiveIntegerField(default=0)
    orphaned_agents = models.PositiveIntegerField(default=0)
    open_findings = models.PositiveIntegerField(default=0)
    open_findings_high = models.PositiveIntegerField(default=0, help_text="Open findings of high or critical severity.")
    reviews_overdue = models.PositiveIntegerField(default=0)
    maturity_traps = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["snapshot", "business_unit", "pattern", "risk_tier"]
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "business_unit", "pattern", "risk_tier"], name="snapshot_line_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.snapshot} · {self.business_unit_id} · {self.pattern} · {self.risk_tier or '-'}"
