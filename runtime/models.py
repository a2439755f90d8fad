"""The runtime control plane's tables: the decision policy and its version, gateway credentials,
and the decision log (denials per minute, allows per day).

The decision API answers from an in-process snapshot (``runtime.snapshot``), never from these
tables directly; ``RuntimePolicy.version`` is what tells every worker that the snapshot is stale.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from registry.choices import Environment
from runtime.choices import ReasonCode
from runtime.querysets import AllowCountQuerySet, DenialRecordQuerySet, GatewayCredentialQuerySet

POLICY_ROW_ID = 1


class RuntimePolicy(models.Model):
    """The one row of runtime policy: the optional switches and the decision version.

    ``version`` is incremented inside the transaction of every change that can alter a decision
    (stops, lifecycle, versions and grants, releases, aliases, agent facts, credentials and these
    switches), so a worker whose snapshot carries an older version rebuilds it.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=POLICY_ROW_ID)
    version = models.BigIntegerField(default=1)
    stops_version = models.BigIntegerField(
        default=1, help_text="Moves with every stop started or lifted: workers then re-read the stops alone."
    )
    deny_open_critical_finding = models.BooleanField(
        default=False, help_text="Refuse decisions in production while the agent has an open critical finding."
    )
    deny_monitoring_lapsed = models.BooleanField(
        default=False, help_text="Refuse decisions for agents whose monitoring has lapsed."
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "runtime policy"
        constraints = [models.CheckConstraint(condition=Q(id=POLICY_ROW_ID), name="runtime_policy_single_row")]

    def __str__(self) -> str:
        return f"Runtime policy v{self.version}"


class GatewayCredential(models.Model):
    """One credential a gateway sends as ``Authorization: Bearer azn_…`` to ask for decisions.

    Only the SHA-256 digest is stored; the raw value is shown once. It reaches the decision
    endpoints and nothing else, and no other token reaches them. Unknown agents it asks about are
    recorded as sightings of its telemetry ``source``, so the shadow-agent check finds them.
    """

    name = models.CharField(max_length=100)
    source = models.ForeignKey(
        "telemetry.TelemetrySource",
        on_delete=models.PROTECT,
        related_name="gateway_credentials",
        help_text="The gateway as a telemetry source: unknown agents it asks about become its sightings.",
    )
    prefix = models.CharField(max_length=16, help_text="The first characters, to tell credentials apart.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = GatewayCredentialQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(name=""), name="gateway_credential_named")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class DenialRecord(models.Model):
    """Every refused decision, aggregated per minute: one row per (minute, caller, subject, action,
    resource, environment, reason) with a count, so a storm of identical denials is one row a minute."""

    minute = models.DateTimeField()
    credential = models.ForeignKey(GatewayCredential, on_delete=models.CASCADE, related_name="denials")
    agent = models.ForeignKey(
        "registry.Agent", on_delete=models.CASCADE, null=True, blank=True, related_name="runtime_denials"
    )
    subject = models.CharField(max_length=300, help_text="The subject as the caller named it.")
    action = models.CharField(max_length=200)
    resource = models.CharField(max_length=300, blank=True)
    environment = models.CharField(max_length=16, choices=Environment.choices)
    reason = models.CharField(max_length=32, choices=ReasonCode.choices)
    count = models.PositiveIntegerField(default=1)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    objects = DenialRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-minute", "-id"]
        indexes = [
            # The agent page's denials and the portfolio's per-unit counts.
            models.Index(fields=["agent", "-minute"], name="denial_agent_minute_idx"),
            models.Index(fields=["-minute"], name="denial_minute_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "credential", "subject", "action", "resource", "environment", "reason"],
                name="denial_once_per_minute",
            ),
            models.CheckConstraint(condition=~Q(reason=ReasonCode.ALLOWED), name="denial_reason_is_a_refusal"),
            models.CheckConstraint(condition=Q(reason__in=ReasonCode.values), name="denial_reason_valid"),
            models.CheckConstraint(condition=Q(count__gte=1), name="denial_count_positive"),
            models.CheckConstraint(condition=Q(last_at__gte=models.F("first_at")), name="denial_seen_order"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.action} {self.reason} ×{self.count}"


class AllowCount(models.Model):
    """How many decisions were ``true`` for one agent, one day, one caller."""

    day = models.DateField()
    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="runtime_allows")
    credential = models.ForeignKey(GatewayCredential, on_delete=models.CASCADE, related_name="allows")
    count = models.PositiveBigIntegerField(default=0)

    objects = AllowCountQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "agent"]
        constraints = [models.UniqueConstraint(fields=["day", "agent", "credential"], name="allow_count_unique")]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.day} ×{self.count}"
