"""Findings the background checks raise, the history of each, the check runs, and notifications.

Detection and notification are separate (healthchecks' Flip is the model): a
check writes ``Finding`` rows and leaves ``notified_at`` empty; the
notification task tells people and stamps them, so nothing is sent twice.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from governance.choices import (
    CheckRunStatus,
    DeliveryStatus,
    FindingEventKind,
    FindingKind,
    FindingState,
    Severity,
)
from governance.querysets import (
    CheckRunQuerySet,
    FindingEventQuerySet,
    FindingQuerySet,
    WebhookDeliveryQuerySet,
    WebhookEndpointQuerySet,
)


class Finding(models.Model):
    """One problem a check found with one subject: a registered agent, or an unregistered identity
    telemetry reports (shadow agents). Open while ``resolved_at`` is empty; at most one open finding
    per subject and kind. It resolves itself, with the time, when its condition clears.

    The board may acknowledge it (seen, being handled) or waive it (accepted, with a reason, until
    ``waived_until``); neither closes it: only the condition clearing does.
    """

    kind = models.CharField(max_length=32, choices=FindingKind.choices)
    agent = models.ForeignKey(
        "registry.Agent", on_delete=models.CASCADE, null=True, blank=True, related_name="findings"
    )
    identity = models.CharField(
        max_length=300, blank=True, help_text="For a shadow agent: the identity telemetry reports."
    )
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.MEDIUM)
    summary = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    details_digest = models.CharField(
        max_length=32,
        blank=True,
        editable=False,
        help_text="A fingerprint of the details as the check wrote them, so a sweep compares one short value "
        "per finding rather than each document (empty: compare the documents).",
    )
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the owner was told (empty: not yet, or nobody to tell)."
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    waived_at = models.DateTimeField(null=True, blank=True)
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    waiver_reason = models.TextField(max_length=2000, blank=True)
    waived_until = models.DateTimeField(null=True, blank=True)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            # The findings list and every check's "what is open now" read.
            models.Index(
                fields=["kind", "-opened_at"], name="finding_open_kind_idx", condition=Q(resolved_at__isnull=True)
            ),
            models.Index(fields=["agent", "-opened_at"], name="finding_agent_idx"),
            # governance.tasks.notify_findings: open findings nobody was told about yet.
            models.Index(
                fields=["opened_at"],
                name="finding_unnotified_idx",
                condition=Q(notified_at__isnull=True, resolved_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=FindingKind.values), name="finding_kind_valid"),
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="finding_severity_valid"),
            # Exactly one subject: an agent, or an unregistered identity.
            models.CheckConstraint(
                condition=(Q(agent__isnull=False) & Q(identity="")) | (Q(agent__isnull=True) & ~Q(identity="")),
                name="finding_one_subject",
            ),
            # One open finding per subject and kind: what makes re-running a check, or two
            # sweeps at once, unable to raise the same finding twice.
            models.UniqueConstraint(
                fields=["agent", "kind"],
                condition=Q(resolved_at__isnull=True, agent__isnull=False),
                name="finding_one_open_per_agent_kind",
            ),
            models.UniqueConstraint(
                fields=["identity", "kind"],
                condition=Q(resolved_at__isnull=True, agent__isnull=True),
                name="finding_one_open_per_identity_kind",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("opened_at")),
                name="finding_resolved_after_opened",
            ),
            models.CheckConstraint(
                condition=Q(waived_at__isnull=True) | (~Q(waiver_reason="") & Q(waived_until__isnull=False)),
                name="finding_waiver_has_reason_and_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject_label}"

    @property
    def subject_label(self) -> str:
        return self.agent.name if self.agent_id else self.identity

    def state(self, now) -> str:
        """Pure: open, acknowledged, waived (while the waiver holds) or resolved at ``now``."""
        if self.resolved_at is not None:
            return FindingState.RESOLVED
        if self.waived_at is not None and self.waived_until is not None and self.waived_until > now:
            return FindingState.WAIVED
        if self.acknowledged_at is not None:
            return FindingState.ACKNOWLEDGED
        return FindingState.OPEN


class FindingEvent(models.Model):
    """One step in a finding's history: opened, details changed, acknowledged, waived, notified, resolved."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=FindingEventKind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(max_length=2000, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = FindingEventQuerySet.as_manager()

    class Meta:
        ordering = ["finding", "at", "id"]
        indexes = [models.Index(fields=["finding", "at", "id"], name="finding_event_idx")]

    def __str__(self) -> str:
        return f"{self.finding_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class CheckRun(models.Model):
    """One run of one check: when it started and finished, what it found and resolved, or why it failed.
    Lets the site say "last shadow-agent scan 10:05, 3 new"."""

    check_kind = models.CharField(max_length=32, choices=FindingKind.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=CheckRunStatus.choices, default=CheckRunStatus.RUNNING)
    found = models.PositiveIntegerField(default=0, help_text="Findings opened by this run.")
    resolved = models.PositiveIntegerField(default=0, help_text="Findings this run saw cleared.")
    still_open = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = CheckRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["check_kind", "-started_at"], name="check_run_kind_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CheckRunStatus.values), name="check_run_status_valid")
        ]

    def __str__(self) -> str:
        return f"{self.check_kind} at {self.started_at:%Y-%m-%d %H:%M}"


class WebhookEndpoint(models.Model):
    """One URL that receives finding events as JSON, signed with HMAC-SHA256 of the body (administrators)."""

    name = models.CharField(max_length=120, unique=True)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, help_text="Shared secret for the X-Signature-256 header.")
    active = models.BooleanField(default=True)
    kinds = models.JSONField(default=list, blank=True, help_text="Finding kinds to send; empty for all.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class WebhookDelivery(models.Model):
    """One event (a finding opened or resolved, a stop started or lifted) for one endpoint, with every
    attempt logged.

    Unique per (endpoint, finding or stop, event): an event is queued once, so nothing is sent twice.
    """

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries")
    stop = models.ForeignKey(
        "registry.Stop", on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_deliveries"
    )
    event = models.CharField(max_length=32)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    attempt_log = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # governance.tasks.retry_webhooks: pending deliveries whose next attempt is due.
            models.Index(fields=["next_attempt_at"], name="webhook_due_idx", condition=Q(status="pending")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "finding", "event"], name="webhook_delivery_once"),
            models.UniqueConstraint(
                fields=["endpoint", "stop", "event"],
                condition=Q(stop__isnull=False),
                name="webhook_stop_delivery_once",
            ),
            # Each delivery is about exactly one thing: a finding or a stop.
            models.CheckConstraint(
                condition=Q(finding__isnull=False, stop__isnull=True) | Q(finding__isnull=True, stop__isnull=False),
                name="webhook_delivery_one_subject",
            ),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="webhook_status_valid"),
        ]

    def __str__(self) -> str:
        subject = f"#{self.finding_id}" if self.finding_id else f"stop #{self.stop_id}"
        return f"{self.event} {subject} → {self.endpoint}"


class DigestLog(models.Model):
    """One board digest sent for one day: the row is claimed before sending, so a day's digest goes once."""

    day = models.DateField(unique=True)
    sent_at = models.DateTimeField()
    recipients = models.PositiveIntegerField(default=0)
    findings = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"digest {self.day}"
