"""Waivers: a control gap the board accepted for a limited time."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from governance.querysets import WaiverQuerySet


class Waiver(models.Model):
    """One accepted gap: the board lets one agent go without one control until ``expires_at``, for a reason.

    While in force, the gap counts as covered at the release gate.
    """

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="waivers")
    control_code = models.SlugField(max_length=40)
    reason = models.TextField(max_length=4000)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = WaiverQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "control_code", "-granted_at", "-id"]
        indexes = [models.Index(fields=["agent", "control_code", "-granted_at", "-id"], name="waiver_agent_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=F("granted_at")), name="waiver_expires_after_grant"),
            models.CheckConstraint(condition=~Q(reason=""), name="waiver_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Waiver of {self.control_code} for {self.agent}"

    def in_force(self, now) -> bool:
        return self.revoked_at is None and self.expires_at > now
