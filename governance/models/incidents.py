"""The incident register."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from governance.choices import IncidentStatus, Severity
from governance.querysets import IncidentQuerySet


class Incident(models.Model):
    """One incident of one agent: what happened, how bad, when it was detected and resolved,
    the version it ran, and the follow-up actions agreed."""

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="incidents")
    version = models.ForeignKey(
        "registry.AgentVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents"
    )
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    what_happened = models.TextField(max_length=8000)
    follow_up_actions = models.TextField(max_length=8000, blank=True)
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    detected_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(max_length=4000, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reported_at = models.DateTimeField()

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "-detected_at", "-id"]
        indexes = [
            models.Index(fields=["agent", "-detected_at", "-id"], name="incident_agent_recent_idx"),
            # Open incidents per severity: the board queue and the agent panel.
            models.Index(fields=["severity", "detected_at"], name="incident_open_idx", condition=Q(status="open")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="incident_severity_valid"),
            models.CheckConstraint(condition=Q(status__in=IncidentStatus.values), name="incident_status_valid"),
            models.CheckConstraint(
                condition=(Q(status="open") & Q(resolved_at__isnull=True))
                | (Q(status="resolved") & Q(resolved_at__isnull=False)),
                name="incident_resolved_iff_time",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("detected_at")),
                name="incident_resolved_after_detected",
            ),
        ]

    def __str__(self) -> str:
        return self.title
