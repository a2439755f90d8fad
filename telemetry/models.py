"""Telemetry: who reports (sources and their tokens), what they reported (raw
events, kept for a while), and the small tables the checks read instead of the
raw stream (sightings, monitoring state, daily usage, aliases).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from telemetry.choices import EventKind, MonitoringStatus, RejectionReason, SourceKind, TelemetryEnvironment
from telemetry.querysets import (
    DailyEvaluationQuerySet,
    DailyToolUsageQuerySet,
    DailyUsageQuerySet,
    ExternalIdentityQuerySet,
    IdentityAliasQuerySet,
    IngestDayTotalsQuerySet,
    IngestTokenQuerySet,
    MonitoringStateQuerySet,
    PendingSpanQuerySet,
    RejectedItemQuerySet,
    RejectionCountQuerySet,
    SightingQuerySet,
    SpanOwnerQuerySet,
    TelemetryEventQuerySet,
    TelemetrySourceQuerySet,
    ToolUseQuerySet,
)

# The longest raw environment label kept as sent (deployment.environment.name or the batch's environment).
ENVIRONMENT_LABEL_LENGTH = 64


class TelemetrySource(models.Model):
    """One system that sends runtime telemetry: a gateway, a collector, an agent platform."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=SourceKind.choices, default=SourceKind.COLLECTOR)
    description = models.TextField(max_length=2000, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="telemetry_sources",
        help_text="The person who runs this source and answers when it goes quiet.",
    )
    active = models.BooleanField(default=True, help_text="An inactive source's tokens are refused.")
    default_environment = models.CharField(
        max_length=16,
        choices=TelemetryEnvironment.choices,
        default=TelemetryEnvironment.UNSPECIFIED,
        db_default=TelemetryEnvironment.UNSPECIFIED,
        help_text="Where reports that name no environment are filed.",
    )
    environment_aliases = models.JSONField(
        default=dict,
        blank=True,
        help_text="This source's own labels (a label, or a prefix ending in *) and the environment each means; "
        "read before the default table.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = TelemetrySourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=SourceKind.values), name="source_kind_valid"),
            models.CheckConstraint(
                condition=Q(default_environment__in=TelemetryEnvironment.values), name="source_default_env_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from telemetry.environments import alias_errors

        errors = alias_errors(self.environment_aliases)
        if errors:
            raise ValidationError({"environment_aliases": errors})


class IngestToken(models.Model):
    """One token a source sends as ``Authorization: Bearer ing_…``. Only the SHA-256 digest is stored.

    An ingest token can only ingest: every other endpoint answers 403.
    """

    source = models.ForeignKey(TelemetrySource, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text="The first characters, to tell tokens apart.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = IngestTokenQuerySet.as_manager()

    class Meta:
        ordering = ["source", "-created_at", "-id"]
        indexes = [models.Index(fields=["source", "-created_at", "-id"], name="ingest_token_source_idx")]

    def __str__(self) -> str:
        return f"{self.source} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class TelemetryEvent(models.Model):
    """One reported event (a heartbeat, an invocation, a tool call …), kept for TELEMETRY_RETENTION_DAYS.

    ``identity`` is the reporting agent as telemetry names it (its key, an
    OpenTelemetry agent id, or ``name@service``); ``agent`` is the registered
    agent it resolved to at ingest, if any. Nothing reads this table on a
    schedule except the purge: the checks read sightings and rollups.

    On PostgreSQL the table is partitioned by UTC day of ``occurred_at`` (see
    ``telemetry.partitions``): its primary key there is (id, occurred_at), as
    every unique constraint of a partitioned table must hold the partition
    key; ``id`` alone still comes from one sequence and stays Django's key.
    """

    source = models.ForeignKey(TelemetrySource, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        help_text="The sender's id; the same id sent again with the same time is stored once.",
    )
    identity = models.CharField(max_length=300)
    agent = models.ForeignKey(
        "registry.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="telemetry_events"
    )
    environment = models.CharField(max_length=16, choices=TelemetryEnvironment.choices)
    environment_label = models.CharField(
        max_length=ENVIRONMENT_LABEL_LENGTH, blank=True, default="", db_default="", help_text="The label as sent."
    )
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)
    is_error = models.BooleanField(default=False)
    latency_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)

    objects = TelemetryEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # Reads by age across days; the purge task (telemetry.tasks.purge_old_events) deletes by age on
            # SQLite and in PostgreSQL's default partition.
            models.Index(fields=["occurred_at"], name="telemetry_event_occurred_idx"),
            # An agent's recent events on its page.
            models.Index(fields=["agent", "-occurred_at"], name="telemetry_event_agent_idx"),
        ]
        constraints = [
            # Collectors retry: the same event id from the same source is stored once. The event's own time
            # is part of the key because PostgreSQL partitions by it; a retry repeats it (the sender's
            # timestamp, or the span's end time for OTLP), so retries are still stored once.
            models.UniqueConstraint(
                fields=["source", "event_id", "occurred_at"],
                condition=Q(event_id__isnull=False),
                name="telemetry_event_id_once",
            ),
            models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="telemetry_event_kind_valid"),
            models.CheckConstraint(
                condition=Q(environment__in=TelemetryEnvironment.values), name="telemetry_event_environment_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identity} {self.kind} {self.occurred_at:%Y-%m-%d %H:%M}"


class Sighting(models.Model):
    """One agent identity seen in one environment through one source: first and last seen, how often.

    Rows without ``agent`` are identities no registered agent claims; the
    shadow-agent check reads them (partial index below).
    """

    identity = models.CharField(max_length=300)
    environment = models.CharField(max_length=16, choices=TelemetryEnvironment.choices)
    environment_label = models.CharField(
        max_length=ENVIRONMENT_LABEL_LENGTH,
        blank=True,
        default="",
        db_default="",
        help_text="The environment label as last sent (empty: none was sent).",
    )
    source = models.ForeignKey(TelemetrySource, on_delete=models.CASCADE, related_name="sightings")
    agent = models.ForeignKey(
        "registry.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="sightings"
    )
    agent_name = models.CharField(max_length=200, blank=True, help_text="gen_ai.agent.name or the name sent.")
    service_name = models.CharField(max_length=200, blank=True, help_text="The resource's service.name.")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    event_count = models.BigIntegerField(default=0)

    objects = SightingQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen_at", "identity"]
        indexes = [
            # The shadow-agent check and the triage page: identities nobody claims.
            models.Index(fields=["identity"], condition=Q(agent__isnull=True), name="sighting_unclaimed_idx"),
            # The unapproved-in-production check: recent production sightings per agent.
            models.Index(fields=["environment", "agent", "-last_seen_at"], name="sighting_env_agent_idx"),
            models.Index(fields=["-last_seen_at", "identity"], name="sighting_recent_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["identity", "environment", "source"], name="sighting_unique"),
            models.CheckConstraint(
                condition=Q(environment__in=TelemetryEnvironment.values), name="sighting_environment_valid"
            ),
            models.CheckConstraint(
                condition=Q(last_seen_at__gte=models.F("first_seen_at")), name="sighting_seen_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identity} in {self.environment} via {self.source}"


class IdentityAlias(models.Model):
    """One more identity a registered agent claims (another agent id, or ``name@service``),
    so a renamed deployment or a framework's name-only spans stay matched."""

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="identity_aliases")
    identity = models.CharField(max_length=300, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = IdentityAliasQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "identity"]
        verbose_name_plural = "identity aliases"

    def __str__(self) -> str:
        return f"{self.identity} → {self.agent.key}"


class ExternalIdentity(models.Model):
    """One unregistered identity the board marked as known and external (a vendor's agent, a
    partner's bot) until ``expires_at``: the shadow-agent check leaves it alone until then."""

    identity = models.CharField(max_length=300, unique=True)
    reason = models.TextField(max_length=2000)
    expires_at = models.DateTimeField()
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    marked_at = models.DateTimeField(auto_now_add=True)

    objects = ExternalIdentityQuerySet.as_manager()

    class Meta:
        ordering = ["identity"]
        verbose_name_plural = "external identities"

    def __str__(self) -> str:
        return self.identity

    def is_current(self, now) -> bool:
        return self.expires_at > now


class MonitoringState(models.Model):
    """Per registered agent: when telemetry last reported it and by when the next report must come.

    Written at ingest (``last_seen_at`` only ever moves forward) and refreshed
    in one statement when tiers or lifecycles change, so the lapsed-monitoring
    check reads one row per agent and never the event stream.
    """

    agent = models.OneToOneField("registry.Agent", on_delete=models.CASCADE, related_name="monitoring")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_environment = models.CharField(max_length=16, blank=True)
    last_source = models.ForeignKey(TelemetrySource, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    deadline_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next report is due; empty while the agent is not watched."
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = MonitoringStateQuerySet.as_manager()

    class Meta:
        ordering = ["agent"]
        indexes = [
            # The lapsed-monitoring check (governance.checks) finds overdue agents by deadline.
            models.Index(
                fields=["deadline_at"], condition=Q(deadline_at__isnull=False), name="monitoring_deadline_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"monitoring of {self.agent_id}"

    def status(self, now, lifecycle: str) -> str:
        """Pure: the agent's monitoring status at ``now`` for its current lifecycle."""
        if lifecycle not in ("pilot", "production"):
            return MonitoringStatus.NOT_WATCHED
        if self.last_seen_at is None:
            return MonitoringStatus.NEVER_REPORTED
        if self.deadline_at is not None and self.deadline_at < now:
            return MonitoringStatus.LAPSED
        return MonitoringStatus.REPORTING


# The latency histogram of DailyUsage: (upper bound in ms, or None for the last bucket, column).
LATENCY_BUCKETS = (
    (100.0, "latency_le_100ms"),
    (250.0, "latency_le_250ms"),
    (500.0, "latency_le_500ms"),
    (1000.0, "latency_le_1s"),
    (2500.0, "latency_le_2500ms"),
    (5000.0, "latency_le_5s"),
    (10000.0, "latency_le_10s"),
    (None, "latency_over_10s"),
)
LATENCY_BUCKET_FIELDS = tuple(name for _, name in LATENCY_BUCKETS)


def latency_bucket(latency_ms: float) -> str:
    """The histogram column a latency falls in (bounds are inclusive)."""
    for bound, name in LATENCY_BUCKETS:
        if bound is None or latency_ms <= bound:
            return name
    return LATENCY_BUCKETS[-1][1]


def latency_percentile(counts, share: float = 0.95) -> float | None:
    """The latency below which ``share`` of the samples fall, from bucket counts in LATENCY_BUCKETS order:
    interpolated linearly inside the bucket; the open last bucket answers its lower bound (10 s)."""
    total = sum(counts)
    if not total:
        return None
    target = share * total
    seen = 0
    lower = 0.0
    for (bound, _), count in zip(LATENCY_BUCKETS, counts, strict=True):
        if count and seen + count >= target:
            if bound is None:
                return lower
            return lower + (bound - lower) * (target - seen) / count
        seen += count
        lower = bound if bound is not None else lower
    return lower


class DailyUsage(models.Model):
    """One registered agent's usage on one UTC day in one environment, summed at ingest."""

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField()
    environment = models.CharField(max_length=16, choices=TelemetryEnvironment.choices)
    invocations = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    tool_calls = models.BigIntegerField(default=0)
    escalations = models.BigIntegerField(default=0)
    heartbeats = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    latency_ms_total = models.FloatField(default=0)
    latency_samples = models.BigIntegerField(default=0)
    latency_ms_max = models.FloatField(default=0)
    # A small fixed-bucket latency histogram (LATENCY_BUCKETS): samples per bucket, so the drift check
    # can estimate the day's p95 latency; days and sources add up exactly.
    latency_le_100ms = models.BigIntegerField(default=0)
    latency_le_250ms = models.BigIntegerField(default=0)
    latency_le_500ms = models.BigIntegerField(default=0)
    latency_le_1s = models.BigIntegerField(default=0)
    latency_le_2500ms = models.BigIntegerField(default=0)
    latency_le_5s = models.BigIntegerField(default=0)
    latency_le_10s = models.BigIntegerField(default=0)
    latency_over_10s = models.BigIntegerField(default=0)

    objects = DailyUsageQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "agent", "environment"]
        indexes = [models.Index(fields=["-day", "agent"], name="daily_usage_day_idx")]
        constraints = [
            models.UniqueConstraint(fields=["agent", "day", "environment"], name="daily_usage_unique"),
            models.CheckConstraint(
                condition=Q(environment__in=TelemetryEnvironment.values), name="daily_usage_env_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.day} {self.environment}"

    @property
    def average_latency_ms(self) -> float | None:
        return self.latency_ms_total / self.latency_samples if self.latency_samples else None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class DailyToolUsage(models.Model):
    """One registered agent's calls of one tool on one UTC day, summed at ingest.

    ``tool_name`` is the name telemetry gives (``gen_ai.tool.name``, the tool of an MCP ``tools/call``
    span, or ``tool`` in a JSON batch event); ``server_address`` is the MCP server's ``server.address``,
    empty for a tool called without MCP. The ungranted-tool-use check reads this table, never the raw
    events, and matches the names to catalog tools when it runs (so a tool added to the catalog later
    still matches).
    """

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="daily_tool_usage")
    day = models.DateField()
    tool_name = models.CharField(max_length=200)
    server_address = models.CharField(max_length=255, blank=True, default="")
    calls = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    last_called_at = models.DateTimeField()

    objects = DailyToolUsageQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "agent", "tool_name", "server_address"]
        verbose_name_plural = "daily tool usage"
        indexes = [
            # The ungranted-tool-use check (governance.checks) reads the last seven days' calls.
            models.Index(fields=["-day", "agent"], name="daily_tool_usage_day_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "day", "tool_name", "server_address"], name="daily_tool_usage_unique"
            ),
            models.CheckConstraint(condition=~Q(tool_name=""), name="daily_tool_usage_tool_named"),
            models.CheckConstraint(
                condition=Q(calls__gte=0) & Q(errors__gte=0) & Q(errors__lte=models.F("calls")),
                name="daily_tool_usage_counts_valid",
            ),
        ]

    def __str__(self) -> str:
        where = f" on {self.server_address}" if self.server_address else ""
        return f"{self.agent_id} {self.day} {self.tool_name}{where}"


class ToolUse(models.Model):
    """One registered agent's use of one tool (on one MCP server) over all time: first and last call, calls.

    The daily rollup above answers "how much, which day"; this one row per (agent, tool, server) answers
    "still in use?" for the ungranted-tool-use check, which reads the rows called recently through the
    index below instead of grouping a week of daily rows.
    """

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="tool_uses")
    tool_name = models.CharField(max_length=200)
    server_address = models.CharField(max_length=255, blank=True, default="")
    calls = models.BigIntegerField(default=0)
    first_called_at = models.DateTimeField()
    last_called_at = models.DateTimeField()

    objects = ToolUseQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "tool_name", "server_address"]
        indexes = [
            # The ungranted-tool-use check (governance.checks) reads the tools called in the last 7 days.
            models.Index(fields=["last_called_at"], name="tool_use_last_called_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["agent", "tool_name", "server_address"], name="tool_use_unique"),
            models.CheckConstraint(condition=~Q(tool_name=""), name="tool_use_tool_named"),
            models.CheckConstraint(
                condition=Q(last_called_at__gte=models.F("first_called_at")), name="tool_use_called_order"
            ),
        ]

    def __str__(self) -> str:
        where = f" on {self.server_address}" if self.server_address else ""
        return f"{self.agent_id} {self.tool_name}{where}"


class UnregisteredToolUse(models.Model):
    """Tools an identity no registered agent claims was seen calling: one row per (source, identity, tool,
    MCP server), with the first and last call and the calls, summed at ingest like :class:`ToolUse`.

    It lets the short form that claims a shadow agent show the tools and MCP servers it used and ask
    for them on its first version. Rows stay keyed by identity once it is claimed (the agent's own
    :class:`ToolUse` rows take over from then on) and go when their last call passes the raw events'
    retention (``telemetry.purge_old_events``).
    """

    source = models.ForeignKey(TelemetrySource, on_delete=models.CASCADE, related_name="unregistered_tool_uses")
    identity = models.CharField(max_length=300)
    tool_name = models.CharField(max_length=200)
    server_address = models.CharField(max_length=255, blank=True, default="")
    calls = models.BigIntegerField(default=0)
    first_called_at = models.DateTimeField()
    last_called_at = models.DateTimeField()

    class Meta:
        ordering = ["identity", "tool_name", "server_address", "source"]
        indexes = [
            # The claim form (telemetry.services.identity_facts) reads one identity's rows.
            models.Index(fields=["identity"], name="unreg_tool_use_identity_idx"),
            # The retention purge (telemetry.purge_old_events) deletes the rows last called before the cutoff.
            models.Index(fields=["last_called_at"], name="unreg_tool_use_last_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "identity", "tool_name", "server_address"], name="unreg_tool_use_unique"
            ),
            models.CheckConstraint(condition=~Q(tool_name=""), name="unreg_tool_use_tool_named"),
            models.CheckConstraint(
                condition=Q(calls__gte=0) & Q(last_called_at__gte=models.F("first_called_at")),
                name="unreg_tool_use_counts_valid",
            ),
        ]

    def __str__(self) -> str:
        where = f" on {self.server_address}" if self.server_address else ""
        return f"{self.identity} {self.tool_name}{where}"


class DailyEvaluation(models.Model):
    """One registered agent's evaluation results of one evaluation (``gen_ai.evaluation.name``) on one UTC day.

    The sum of the scores is kept, not their mean, so days and sources combine exactly:
    mean = ``score_sum`` / ``scored``. ``results`` counts every result, ``scored`` those with a numeric
    ``gen_ai.evaluation.score.value``; a label-only result counts in ``results`` alone.
    """

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="daily_evaluations")
    day = models.DateField()
    name = models.CharField(max_length=200)
    results = models.BigIntegerField(default=0)
    scored = models.BigIntegerField(default=0)
    score_sum = models.FloatField(default=0)
    score_min = models.FloatField(null=True, blank=True)
    score_max = models.FloatField(null=True, blank=True)
    last_label = models.CharField(max_length=100, blank=True, help_text="gen_ai.evaluation.score.label of the latest.")
    last_at = models.DateTimeField()

    objects = DailyEvaluationQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "agent", "name"]
        indexes = [models.Index(fields=["-day", "agent"], name="daily_evaluation_day_idx")]
        constraints = [
            models.UniqueConstraint(fields=["agent", "day", "name"], name="daily_evaluation_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="daily_evaluation_named"),
            models.CheckConstraint(
                condition=Q(scored__gte=0) & Q(scored__lte=models.F("results")), name="daily_evaluation_counts_valid"
            ),
            models.CheckConstraint(
                condition=Q(scored=0) | (Q(score_min__isnull=False) & Q(score_max__isnull=False)),
                name="daily_evaluation_scored_has_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.day} {self.name}"

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None


class IngestDay(models.Model):
    """What one source sent on one UTC day and how much of it was refused, summed at ingest.

    ``received`` counts the items the source sent (batch events, GenAI spans); ``rejected`` those
    refused, whatever the reason (per reason in RejectionCount). The telemetry_rejected check reads
    this small table, never the raw events.

    Every ingest request adds to it in its own transaction, so one row per source and day would be
    a row every concurrent request of a busy source waits on until the one before it commits. The
    day is therefore kept in INGEST_DAY_SHARDS rows (``shard``, picked at random per request) and
    read summed: ``IngestDay.objects.totals()``.
    """

    source = models.ForeignKey(TelemetrySource, on_delete=models.CASCADE, related_name="ingest_days")
    day = models.DateField()
    shard = models.PositiveSmallIntegerField(default=0, db_default=0)
    received = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)

    objects = IngestDayTotalsQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "source"]
        indexes = [
            # The telemetry_rejected check reads the last two days of every source.
            models.Index(fields=["-day", "source"], name="ingest_day_recent_idx")
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "day", "shard"], name="ingest_day_shard_unique"),
            models.CheckConstraint(condition=Q(received__gte=0, rejected__gte=0), name="ingest_day_counts_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.day} (part {self.shard}): {self.rejected}/{self.received} rejected"


class RejectionCount(models.Model):
    """How many items one source had refused on one UTC day for one reason."""

    source = models.ForeignKey(TelemetrySource, on_delete=models.CASCADE, related_name="rejection_counts")
    day = models.DateField()
    reason = models.CharField(max_length=16, choices=RejectionReason.choices)
    count = models.BigIntegerField(default=0)

    objects = RejectionCountQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "source", "reason"]
        constraints = [
            models.UniqueConstraint(fields=["source", "day", "reason"], name="rejection_count_unique"),
            models.CheckConstraint(condition=Q(reason__in=RejectionReason.values), name="rejection_reason_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.day} {self.reason}: {self.count}"


class RejectedItem(models.Model):
    """One refused item in full (the event or span as sent) and why; the last REJECTED_ITEMS_KEPT per
    source are kept, older ones are deleted as new ones arrive."""

    source = models.ForeignKey(TelemetrySource, on_delete=models.CASCADE, related_name="rejected_items")
    received_at = models.DateTimeField()
    reason = models.CharField(max_length=16, choices=RejectionReason.choices)
    message = models.TextField(max_length=2000)
    payload = models.JSONField(default=dict, blank=True, help_text="The item as sent.")

    objects = RejectedItemQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # The source page's last 50, and the trim after each insert.
            models.Index(fields=["source", "-received_at", "-id"], name="rejected_item_source_idx")
        ]
        constraints = [
            models.CheckConstraint(condition=Q(reason__in=RejectionReason.values), name="rejected_item_reason_valid")
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.reason} {self.received_at:%Y-%m-%d %H:%M}"


class SpanOwner(models.Model):
    """One span of a recent OTLP trace and the agent identity it belongs to (its own, or its nearest
    named ancestor's), so a child span arriving in a later export finds its agent.

    Kept for TELEMETRY_TRACE_WINDOW_SECONDS after it was received. ``agent_totals`` says whether the
    nearest ``invoke_agent`` span carries token totals: then those count, and its children's do not.
    """

    source = models.ForeignKey(TelemetrySource, on_delete=models.CASCADE, related_name="+")
    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    identity = models.CharField(max_length=300)
    agent_name = models.CharField(max_length=200, blank=True)
    service_name = models.CharField(max_length=200, blank=True)
    by_name = models.BooleanField(default=False)
    agent_totals = models.BooleanField(default=False)
    tool_call = models.BooleanField(
        default=False, help_text="An execute_tool span: an MCP tools/call span inside it is the same call."
    )
    received_at = models.DateTimeField()

    objects = SpanOwnerQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # telemetry.tasks.close_trace_window deletes owners older than the window.
            models.Index(fields=["received_at"], name="span_owner_received_idx")
        ]
        constraints = [models.UniqueConstraint(fields=["source", "trace_id", "span_id"], name="span_owner_unique")]

    def __str__(self) -> str:
        return f"{self.trace_id}:{self.span_id} → {self.identity}"


class PendingSpan(models.Model):
    """One GenAI child span (``chat``, ``execute_tool`` …) whose named ancestor has not arrived yet:
    held, not counted, until an export brings the span it waits for (``waiting_for``, the highest
    ancestor it could reach), or until the trace window closes, when it is counted as rejected
    (unattributed) for its source."""

    source = models.ForeignKey(TelemetrySource, on_delete=models.CASCADE, related_name="pending_spans")
    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    waiting_for = models.CharField(max_length=16, help_text="The ancestor span id this span waits for.")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    environment = models.CharField(max_length=16, choices=TelemetryEnvironment.choices)
    environment_label = models.CharField(max_length=ENVIRONMENT_LABEL_LENGTH, blank=True, default="")
    is_error = models.BooleanField(default=False)
    latency_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    agent_totals = models.BooleanField(
        null=True,
        blank=True,
        help_text="Whether an invoke_agent ancestor met so far carries token totals (empty: none met yet).",
    )
    tool_name = models.CharField(max_length=200, blank=True, default="", help_text="The tool of a held tool call.")
    mcp_parent = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="For an MCP tools/call span: its parent span id (an execute_tool span wrapping it is the same call).",
    )
    tool_server = models.CharField(
        max_length=255, blank=True, default="", help_text="The MCP server address of a held tool call."
    )
    evaluations = models.JSONField(
        default=list, blank=True, help_text="Evaluation results on the held span: [name, score, label] each."
    )
    payload = models.JSONField(default=dict, blank=True, help_text="The span as sent, shown if it is never attributed.")

    objects = PendingSpanQuerySet.as_manager()

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [
            # Ingest: the held children an export's spans complete.
            models.Index(fields=["source", "trace_id", "waiting_for"], name="pending_span_waiting_idx"),
            # telemetry.tasks.close_trace_window: held past the window.
            models.Index(fields=["received_at"], name="pending_span_received_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "trace_id", "span_id"], name="pending_span_unique"),
            models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="pending_span_kind_valid"),
            models.CheckConstraint(
                condition=Q(environment__in=TelemetryEnvironment.values), name="pending_span_environment_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trace_id}:{self.span_id} waiting for {self.waiting_for}"
