"""Evidence an owner submits to prove a control, and the board's verdict on it."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from governance.choices import ControlState, EvidenceKind, EvidenceStatus
from governance.querysets import EvidenceQuerySet


def evidence_upload_to(instance, filename: str) -> str:
    # Files are stored under their content hash, never under the uploader's name:
    # no path tricks, and the name reveals nothing. They are served only through
    # the permission-checked download view, never from MEDIA_URL.
    return f"evidence/{instance.agent_id}/{instance.file_sha256}"


# What a person reads when a second piece would wait for review (or stand accepted) beside the first.
ONE_PER_CONTROL_MESSAGES = {
    "submitted": "Evidence for this control is already waiting for the board's review; "
    "wait for its decision or submit again to replace it.",
    "accepted": "This control already has accepted evidence; the board accepts one piece per control at a time.",
}
ONE_PER_VERSION_MESSAGES = {
    "submitted": "Evidence for this control and version is already waiting for the board's review; "
    "wait for its decision or submit again to replace it.",
    "accepted": "This control already has accepted evidence for this version; "
    "the board accepts one piece per control and version at a time.",
}


class Evidence(models.Model):
    """One piece of evidence for one control of one agent: a link, an uploaded file or a written statement.

    Stored states are submitted, accepted, rejected and superseded (a newer
    accepted piece for the same control replaced it; an accepted piece stays in
    force while its successor awaits review). ``missing`` (nothing live)
    and ``expired`` (accepted but past ``valid_until``, for another version
    than the one released, or invalidated by a change of the facts it covered)
    are derived by :meth:`state`.
    """

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="evidence")
    control_code = models.SlugField(max_length=40)
    version = models.ForeignKey(
        "registry.AgentVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evidence",
        help_text="For per-release controls: the version this evidence covers.",
    )
    kind = models.CharField(max_length=16, choices=EvidenceKind.choices)
    url = models.URLField(max_length=1000, blank=True)
    statement = models.TextField(max_length=8000, blank=True)
    file = models.FileField(upload_to=evidence_upload_to, max_length=300, blank=True)
    file_name = models.CharField(max_length=255, blank=True, help_text="The name the file was uploaded with.")
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=120, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=300, blank=True, help_text="One line saying what this shows.")

    status = models.CharField(max_length=16, choices=EvidenceStatus.choices, default=EvidenceStatus.SUBMITTED)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.TextField(max_length=2000, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True)
    invalidated_reason = models.CharField(max_length=500, blank=True)

    objects = EvidenceQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "control_code", "-submitted_at", "-id"]
        verbose_name_plural = "evidence"
        indexes = [
            models.Index(fields=["agent", "control_code", "-submitted_at", "-id"], name="evidence_agent_control_idx"),
            # The board queue: evidence awaiting review.
            models.Index(fields=["submitted_at"], name="evidence_awaiting_idx", condition=Q(status="submitted")),
            # The evidence_expired check: accepted evidence with an expiry.
            models.Index(
                fields=["valid_until"],
                name="evidence_expiry_idx",
                condition=Q(status="accepted", valid_until__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=EvidenceKind.values), name="evidence_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=EvidenceStatus.values), name="evidence_status_valid"),
            models.CheckConstraint(
                condition=(Q(kind="link") & ~Q(url=""))
                | (Q(kind="file") & ~Q(file="") & ~Q(file_sha256=""))
                | (Q(kind="statement") & ~Q(statement="")),
                name="evidence_content_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(review_reason=""), name="evidence_rejection_has_reason"
            ),
            # At most one piece awaiting review and one accepted piece per control (and
            # per version for per-release controls). Two pairs of partial constraints
            # instead of NULLS NOT DISTINCT, so SQLite (the demo) enforces them too.
            *[
                models.UniqueConstraint(
                    fields=["agent", "control_code"],
                    condition=Q(status=status, version__isnull=True),
                    name=f"evidence_one_{status}_per_control",
                    violation_error_message=ONE_PER_CONTROL_MESSAGES[status],
                )
                for status in ("submitted", "accepted")
            ],
            *[
                models.UniqueConstraint(
                    fields=["agent", "control_code", "version"],
                    condition=Q(status=status, version__isnull=False),
                    name=f"evidence_one_{status}_per_version",
                    violation_error_message=ONE_PER_VERSION_MESSAGES[status],
                )
                for status in ("submitted", "accepted")
            ],
        ]

    def __str__(self) -> str:
        return f"{self.control_code} evidence for {self.agent}"

    def state(self, now, released_version_id=None) -> str:
        """The control state this evidence gives at ``now``.

        ``released_version_id``: for per-release evidence, the version being
        released; evidence for another version counts as expired.
        """
        if self.status == EvidenceStatus.SUBMITTED:
            return ControlState.SUBMITTED
        if self.status == EvidenceStatus.REJECTED:
            return ControlState.REJECTED
        if self.status == EvidenceStatus.SUPERSEDED:
            return ControlState.MISSING
        if self.invalidated_at is not None and self.invalidated_at <= now:
            return ControlState.EXPIRED
        if self.valid_until is not None and self.valid_until <= now:
            return ControlState.EXPIRED
        if released_version_id is not None and self.version_id is not None and self.version_id != released_version_id:
            return ControlState.EXPIRED
        return ControlState.ACCEPTED

    def describe(self) -> str:
        if self.kind == EvidenceKind.LINK:
            return self.url
        if self.kind == EvidenceKind.FILE:
            return self.file_name
        return (self.statement[:120] + "…") if len(self.statement) > 120 else self.statement
