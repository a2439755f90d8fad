"""Drift and cost: the parameters of the drift and budget checks (policy data), and monthly budgets."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class DriftPolicyQuerySet(models.QuerySet):
    def current(self):
        """The version in force: the newest, or None before any was saved (the defaults apply)."""
        return self.order_by("-version").first()


class DriftPolicy(models.Model):
    """One version of the drift and budget parameters. Never changed once saved: an edit saves the next
    version (``governance.services.update_drift_policy``, audited), and the newest is in force.

    Jump test: the last ``recent_days`` against the ``baseline_days`` before them. Slide test: the last
    ``slide_days`` against the ``slide_baseline_days`` that end ``slide_gap_days`` before them. A metric
    drifts when it is more than ``mads`` median absolute deviations from the baseline median AND moved by
    at least ``min_relative_move`` of it; below ``min_invocations`` in the recent window nothing is judged.
    ``budget_margin`` is how far the month-end forecast may pass a budget before ``budget_overrun`` opens.
    """

    version = models.PositiveIntegerField(unique=True, validators=[MinValueValidator(1)])
    recent_days = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1), MaxValueValidator(14)])
    baseline_days = models.PositiveSmallIntegerField(
        default=28, validators=[MinValueValidator(7), MaxValueValidator(60)]
    )
    slide_days = models.PositiveSmallIntegerField(default=7, validators=[MinValueValidator(1), MaxValueValidator(14)])
    slide_gap_days = models.PositiveSmallIntegerField(
        default=21, help_text="Days between the end of the slide baseline and the start of the recent week."
    )
    slide_baseline_days = models.PositiveSmallIntegerField(
        default=28, validators=[MinValueValidator(7), MaxValueValidator(60)]
    )
    mads = models.FloatField(default=3.0, validators=[MinValueValidator(1.0), MaxValueValidator(20.0)])
    min_relative_move = models.FloatField(
        default=0.25, validators=[MinValueValidator(0.0), MaxValueValidator(10.0)], help_text="0.25 = 25%."
    )
    min_invocations = models.PositiveIntegerField(default=200, validators=[MinValueValidator(1)])
    budget_margin = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("5"))],
        help_text="0.100 = the forecast may pass the budget by 10% before a finding opens.",
    )
    notes = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = DriftPolicyQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "drift policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(recent_days__gte=1) & Q(baseline_days__gte=7) & Q(slide_days__gte=1),
                name="drift_policy_windows_valid",
            ),
            models.CheckConstraint(
                condition=Q(mads__gte=1) & Q(min_relative_move__gte=0) & Q(min_invocations__gte=1),
                name="drift_policy_thresholds_valid",
            ),
            models.CheckConstraint(condition=Q(budget_margin__gte=0), name="drift_policy_margin_valid"),
        ]

    def __str__(self) -> str:
        return f"Drift policy v{self.version}"


class BudgetQuerySet(models.QuerySet):
    def for_user(self, user, action: str = "view"):
        """Everyone signed in may read budgets (they are on the portfolio); writes are checked by the services."""
        if user is None or not user.is_authenticated:
            return self.none()
        return self


class Budget(models.Model):
    """A monthly cost budget of one agent (set by its owner) or of one business unit, covering its sub-units
    (set by a platform administrator). The same amount applies every month until changed."""

    agent = models.OneToOneField(
        "registry.Agent", on_delete=models.CASCADE, null=True, blank=True, related_name="budget"
    )
    business_unit = models.OneToOneField(
        "registry.BusinessUnit", on_delete=models.CASCADE, null=True, blank=True, related_name="budget"
    )
    monthly_amount = models.DecimalField(max_digits=14, decimal_places=2)
    set_at = models.DateTimeField(auto_now=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = BudgetQuerySet.as_manager()

    class Meta:
        ordering = ["business_unit", "agent"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(agent__isnull=False) & Q(business_unit__isnull=True))
                | (Q(agent__isnull=True) & Q(business_unit__isnull=False)),
                name="budget_one_subject",
            ),
            models.CheckConstraint(condition=Q(monthly_amount__gt=0), name="budget_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"Budget of {self.agent or self.business_unit}: {self.monthly_amount}/month"
