"""Keeping ownership true over time: attestation campaigns and dormant agents kept on purpose."""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from governance.choices import AttestationAnswer, Enforcement
from governance.querysets import AttestationQuerySet, CampaignQuerySet, DormancyKeepQuerySet


def default_reminder_days() -> list[int]:
    return [7, 1]


def default_items() -> list[str]:
    return ["owner", "purpose", "tools", "data", "autonomy", "still_needed"]


class AttestationCampaign(models.Model):
    """One campaign the board runs: owners of the agents in scope confirm their facts by a deadline.

    The scope is fixed when the campaign opens: one ``Attestation`` row per agent then in scope, with its
    owner at that moment. Empty scope lists mean "any". After ``deadline + grace_days`` an unanswered row is
    overdue and the enforcement applies once.
    """

    name = models.CharField(max_length=150)
    scope_units = models.ManyToManyField("registry.BusinessUnit", blank=True, related_name="+")
    scope_tiers = models.JSONField(default=list, blank=True)
    scope_patterns = models.JSONField(default=list, blank=True)
    scope_lifecycles = models.JSONField(default=list, blank=True)
    items = models.JSONField(default=default_items)
    opened_at = models.DateTimeField()
    deadline = models.DateTimeField()
    reminder_days = models.JSONField(default=default_reminder_days, blank=True)
    grace_days = models.PositiveSmallIntegerField(default=14, validators=[MaxValueValidator(365)])
    enforcement = models.CharField(max_length=16, choices=Enforcement.choices, default=Enforcement.FINDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(deadline__gt=models.F("opened_at")), name="campaign_deadline_after_open"
            ),
            models.CheckConstraint(condition=Q(enforcement__in=Enforcement.values), name="campaign_enforcement_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    def enforce_after(self):
        from datetime import timedelta

        return self.deadline + timedelta(days=self.grace_days)


class Attestation(models.Model):
    """One agent in one campaign: what its owner answered, and a snapshot of the facts they attested."""

    campaign = models.ForeignKey(AttestationCampaign, on_delete=models.CASCADE, related_name="attestations")
    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="attestations")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attestations")
    unit = models.ForeignKey("registry.BusinessUnit", on_delete=models.PROTECT, related_name="+")
    answer = models.CharField(max_length=16, choices=AttestationAnswer.choices, default=AttestationAnswer.PENDING)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    snapshot = models.JSONField(default=dict, blank=True)
    enforced_at = models.DateTimeField(null=True, blank=True)

    objects = AttestationQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "owner", "agent"]
        indexes = [
            # The owner's answer page and the progress page read a campaign's rows by owner.
            models.Index(fields=["campaign", "owner", "agent"], name="attestation_owner_idx"),
            # The overdue check and the reminders read the unanswered rows only.
            models.Index(fields=["campaign"], condition=Q(answer="pending"), name="attestation_pending_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "agent"], name="attestation_one_per_agent"),
            models.CheckConstraint(condition=Q(answer__in=AttestationAnswer.values), name="attestation_answer_valid"),
            models.CheckConstraint(
                condition=Q(answer="pending") | Q(answered_at__isnull=False), name="attestation_answer_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign}: {self.agent_id}"


class AttestationReminder(models.Model):
    """One reminder e-mail to one owner for one campaign, at one of its reminder offsets: sent once each."""

    campaign = models.ForeignKey(AttestationCampaign, on_delete=models.CASCADE, related_name="reminders")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["campaign", "days_before", "owner"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "owner", "days_before"], name="attestation_reminder_once"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} {self.days_before}d → {self.owner_id}"


class DormancyKeep(models.Model):
    """The owner's reason to keep a dormant agent: no ``dormant_agent`` finding until ``kept_until``."""

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="dormancy_keeps")
    reason = models.TextField(max_length=2000)
    kept_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    kept_at = models.DateTimeField()
    kept_until = models.DateTimeField()

    objects = DormancyKeepQuerySet.as_manager()

    class Meta:
        ordering = ["-kept_at", "-id"]
        indexes = [models.Index(fields=["agent", "-kept_until"], name="dormancy_keep_agent_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(kept_until__gt=models.F("kept_at")), name="dormancy_keep_in_future"),
            models.CheckConstraint(condition=~Q(reason=""), name="dormancy_keep_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} kept until {self.kept_until:%Y-%m-%d}"
