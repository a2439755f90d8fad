"""The incident register."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from governance.choices import AuthorityReportKind, IncidentStatus, ReportClockStage, SeriousIncidentCategory, Severity
from governance.querysets import AuthorityReportQuerySet, IncidentQuerySet


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
    # Art. 73: a serious incident in the sense of Art. 3(49). The report clock runs from ``aware_at``,
    # when the organisation became aware that it was serious (not when the row was written).
    serious_category = models.CharField(max_length=32, choices=SeriousIncidentCategory.choices, blank=True)
    aware_at = models.DateTimeField(null=True, blank=True)
    marked_serious_at = models.DateTimeField(null=True, blank=True)
    marked_serious_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

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
            models.CheckConstraint(
                condition=Q(serious_category="") | Q(serious_category__in=SeriousIncidentCategory.values),
                name="incident_serious_category_valid",
            ),
            models.CheckConstraint(
                condition=(Q(serious_category="") & Q(aware_at__isnull=True))
                | (~Q(serious_category="") & Q(aware_at__isnull=False) & Q(marked_serious_at__isnull=False)),
                name="incident_serious_iff_aware",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_serious(self) -> bool:
        return bool(self.serious_category)


class AuthorityReport(models.Model):
    """One report of a serious incident sent to a market surveillance authority (Art. 73): the
    initial one may be incomplete, follow-ups complete it."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="authority_reports")
    kind = models.CharField(max_length=16, choices=AuthorityReportKind.choices)
    sent_at = models.DateTimeField()
    authority = models.CharField(max_length=200, help_text="The authority it went to.")
    reference = models.CharField(max_length=120, blank=True, help_text="The authority's or our reference.")
    notes = models.TextField(max_length=4000, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField()

    objects = AuthorityReportQuerySet.as_manager()

    class Meta:
        ordering = ["incident", "sent_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=AuthorityReportKind.values), name="authority_report_kind_valid"
            ),
            models.CheckConstraint(condition=~Q(authority=""), name="authority_report_authority_given"),
            # One initial report per incident; later ones are follow-ups or the final one.
            models.UniqueConstraint(
                fields=["incident"], condition=Q(kind="initial"), name="authority_report_one_initial"
            ),
            models.UniqueConstraint(fields=["incident"], condition=Q(kind="final"), name="authority_report_one_final"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.authority}"


class ReportClockAlert(models.Model):
    """The board was told once that a serious incident's report clock reached a stage (50%, 90%,
    missed): the unique row is claimed before the e-mail goes, so each alert is sent once."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="clock_alerts")
    stage = models.CharField(max_length=16, choices=ReportClockStage.choices)
    deadline = models.DateTimeField()
    sent_at = models.DateTimeField()
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["incident", "sent_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "stage", "deadline"], name="report_clock_alert_once"),
            models.CheckConstraint(
                condition=Q(stage__in=["half", "nearly_missed", "missed"]), name="report_clock_alert_stage_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident} · {self.stage}"
