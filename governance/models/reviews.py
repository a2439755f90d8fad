"""Board reviews (release and periodic), their conditions, and releases (a version approved for an environment)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from governance.choices import ConditionStatus, Decision, ReviewKind, ReviewStatus
from governance.querysets import ReleaseQuerySet, ReviewConditionQuerySet, ReviewQuerySet
from registry.choices import Environment, RiskTier


class Review(models.Model):
    """One board review of one agent: a release review (a version going to an environment)
    or a periodic review (due by the tier's cadence). Open until one board member decides it.

    Deciding is a conditional update on ``status='open'``: of two board members
    deciding at once, exactly one succeeds and the other gets a conflict.
    """

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="reviews")
    kind = models.CharField(max_length=16, choices=ReviewKind.choices)
    version = models.ForeignKey(
        "registry.AgentVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="reviews"
    )
    environment = models.CharField(max_length=16, choices=Environment.choices, blank=True)
    status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    tier = models.CharField(max_length=16, choices=RiskTier.choices, blank=True, help_text="The tier when opened.")
    policy = models.ForeignKey("governance.RiskPolicy", on_delete=models.PROTECT, related_name="reviews")
    due_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(max_length=4000, blank=True, help_text="What the requester asks the board to look at.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField()

    decision = models.CharField(max_length=32, choices=Decision.choices, blank=True)
    decision_reason = models.TextField(max_length=4000, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "-requested_at", "-id"]
        indexes = [
            models.Index(fields=["agent", "-requested_at", "-id"], name="review_agent_recent_idx"),
            # The board queue and the review_overdue check: open reviews by due date.
            models.Index(fields=["due_at"], name="review_open_due_idx", condition=Q(status="open")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ReviewKind.values), name="review_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=ReviewStatus.values), name="review_status_valid"),
            models.CheckConstraint(
                condition=~Q(kind="release") | (Q(version__isnull=False) & ~Q(environment="")),
                name="review_release_names_version_and_environment",
            ),
            models.CheckConstraint(
                condition=~Q(kind="periodic") | Q(due_at__isnull=False), name="review_periodic_has_due_date"
            ),
            models.CheckConstraint(
                condition=(Q(status="decided") & ~Q(decision="") & ~Q(decision_reason="") & Q(decided_at__isnull=False))
                | (~Q(status="decided") & Q(decision="")),
                name="review_decided_has_decision",
            ),
            # One open release review per (version, environment), one open periodic review per agent.
            models.UniqueConstraint(
                fields=["version", "environment"],
                condition=Q(status="open", kind="release"),
                name="review_one_open_release_per_target",
            ),
            models.UniqueConstraint(
                fields=["agent"], condition=Q(status="open", kind="periodic"), name="review_one_open_periodic"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == ReviewKind.RELEASE:
            return (
                f"Release review of {self.agent} {self.version.label if self.version_id else ''} to {self.environment}"
            )
        return f"Periodic review of {self.agent}"

    @property
    def is_open(self) -> bool:
        return self.status == ReviewStatus.OPEN

    def is_overdue(self, now) -> bool:
        return self.status == ReviewStatus.OPEN and self.due_at is not None and self.due_at < now


class ReviewCondition(models.Model):
    """One condition attached to an "approve with conditions" decision, tracked until someone closes it."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="conditions")
    text = models.TextField(max_length=2000)
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ConditionStatus.choices, default=ConditionStatus.OPEN)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_note = models.TextField(max_length=2000, blank=True)

    objects = ReviewConditionQuerySet.as_manager()

    class Meta:
        ordering = ["review", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ConditionStatus.values), name="condition_status_valid"),
            models.CheckConstraint(
                condition=Q(status="open") | Q(closed_at__isnull=False), name="condition_closed_has_time"
            ),
        ]

    def __str__(self) -> str:
        return self.text[:80]


class Release(models.Model):
    """One version approved for one environment by a board decision; ``deployed_at`` is when it went live there.

    The release gate reads these rows: production needs an approved release
    of the version being promoted.
    """

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="releases")
    version = models.ForeignKey("registry.AgentVersion", on_delete=models.PROTECT, related_name="releases")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    review = models.OneToOneField(Review, on_delete=models.PROTECT, related_name="release")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField()
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    deployed_at = models.DateTimeField(null=True, blank=True)

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "-approved_at", "-id"]
        indexes = [models.Index(fields=["agent", "environment", "-approved_at"], name="release_agent_env_idx")]
        constraints = [
            models.UniqueConstraint(fields=["version", "environment"], name="release_one_per_version_environment"),
            models.CheckConstraint(condition=Q(environment__in=Environment.values), name="release_environment_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.version} → {self.environment}"
