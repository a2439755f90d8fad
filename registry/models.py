"""The registry: people, business units, the shared tool catalog, agents and their versions.

An agent is a product with a named owner. Everything a governance board or a
leader later reads about it starts from the row described here.
"""

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from registry.choices import (
    AutonomyLevel,
    CardSignature,
    DataClassification,
    HandoverBasis,
    HandoverStatus,
    Lifecycle,
    McpApproval,
    McpScanStatus,
    McpToolChange,
    McpTransport,
    Mode,
    Pattern,
    RiskTier,
    StopScope,
    ToolAccess,
    Topology,
    UserKind,
    mode_for_autonomy,
    widest_access,
)
from registry.querysets import (
    AgentQuerySet,
    AgentVersionQuerySet,
    ApiTokenQuerySet,
    AuditEventQuerySet,
    CatalogQuerySet,
    DirectoryQuerySet,
    HandoverQuerySet,
    McpServerQuerySet,
    StopQuerySet,
    ToolQuerySet,
    UserQuerySet,
)

# Agent keys match OpenTelemetry's gen_ai.agent.id as teams configure it:
# lowercase words joined by dots or dashes, e.g. "hr.leave-assistant".
KEY_PATTERN = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"
key_validator = RegexValidator(
    KEY_PATTERN,
    "Use lowercase letters and digits, separated by dots, dashes or underscores (for example hr.leave-assistant).",
)


class AccountManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """One account that signs in or calls the API: a person, or a service account for a machine."""

    kind = models.CharField(
        max_length=16,
        choices=UserKind.choices,
        default=UserKind.PERSON,
        help_text="Only people can own agents; service accounts exist for integrations.",
    )
    business_unit = models.ForeignKey(
        "registry.BusinessUnit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
    )
    job_title = models.CharField(max_length=120, blank=True)

    objects = AccountManager()

    class Meta:
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=UserKind.values), name="user_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_person(self) -> bool:
        return self.kind == UserKind.PERSON

    @property
    def can_own_agents(self) -> bool:
        return self.is_active and self.is_person


class BusinessUnit(models.Model):
    """One organisational unit (division, department or team) in the enterprise hierarchy.

    ``path`` is the materialised chain of slugs from the root ("/group/hr/recruiting/"),
    so "this unit and everything under it" is one indexed prefix match.
    """

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    path = models.CharField(max_length=600, unique=True, editable=False)
    description = models.TextField(blank=True, max_length=2000)
    head = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="headed_units",
        help_text="The person accountable for the unit; receives the agents of a deprovisioned owner "
        "when the directory names no manager.",
    )

    objects = CatalogQuerySet.as_manager()

    class Meta:
        # The tree reads top-down in path order; unique=True already indexes it.
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=models.F("pk")), name="business_unit_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return self.path.strip("/").count("/")

    def compute_path(self) -> str:
        prefix = self.parent.path if self.parent_id else "/"
        return f"{prefix}{self.slug}/"


class Tool(models.Model):
    """One tool in the shared catalog that agents may be allowed to call (an API, a system action)."""

    # Same shape as agent keys, so a tool reads as "<system>.<action>" (workday.read-leave).
    key = models.CharField(max_length=80, unique=True, validators=[key_validator])
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    system = models.CharField(max_length=120, blank=True, help_text="The system the tool reads from or acts on.")
    supports_write = models.BooleanField(
        default=False,
        help_text="Whether the tool can change data; only such tools may be granted write access.",
    )
    supports_execute = models.BooleanField(
        default=False,
        help_text="Whether the tool runs actions that cannot be undone (payments, deletions, code); "
        "only such tools may be granted execute access.",
    )
    mcp_server = models.ForeignKey(
        "registry.McpServer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tools",
        help_text="The MCP server that offers this tool (empty: not an MCP tool).",
    )
    mcp_name = models.CharField(
        max_length=200, blank=True, help_text="The tool's name on its MCP server, as tools/list gives it."
    )
    # What the board approved of an MCP tool. A later scan that reads something else leaves these alone
    # and parks what it read in ``mcp_observed``: a tool stays usable only as approved.
    input_schema = models.JSONField(
        default=dict, blank=True, help_text="For an MCP tool: the JSON Schema of its arguments, as approved."
    )
    annotations = models.JSONField(
        default=dict,
        blank=True,
        help_text="For an MCP tool: its hints (readOnlyHint, destructiveHint, idempotentHint, openWorldHint), "
        "as approved.",
    )
    inferred_access = models.CharField(
        max_length=8,
        choices=ToolAccess.choices,
        blank=True,
        help_text="For an MCP tool: the access its annotations imply. The catalog's access may be raised "
        "above it by an administrator, never set below it.",
    )
    raised_access = models.CharField(
        max_length=8,
        choices=ToolAccess.choices,
        blank=True,
        help_text="For an MCP tool: the access an administrator raised it to (empty: as inferred).",
    )
    mcp_approved_at = models.DateTimeField(
        null=True, blank=True, help_text="When the board approved this MCP tool as recorded here (empty: never)."
    )
    mcp_change = models.CharField(
        max_length=8,
        choices=McpToolChange.choices,
        blank=True,
        default=McpToolChange.NONE,
        help_text="How the last scan differs from what the board approved (empty: no difference).",
    )
    mcp_observed = models.JSONField(
        null=True,
        blank=True,
        help_text="For a changed MCP tool: its description, input schema and annotations as the last scan "
        "read them, waiting for the board.",
    )
    mcp_removed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a scan no longer found this tool on its MCP server."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ToolQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(condition=Q(key__regex=KEY_PATTERN), name="tool_key_format"),
            # Execute covers write: a tool that may run irreversible actions can also change data.
            models.CheckConstraint(
                condition=Q(supports_execute=False) | Q(supports_write=True), name="tool_execute_implies_write"
            ),
            models.UniqueConstraint(
                fields=["mcp_server", "mcp_name"],
                condition=Q(mcp_server__isnull=False),
                name="tool_mcp_name_unique_per_server",
            ),
            models.CheckConstraint(condition=Q(mcp_change__in=McpToolChange.values), name="tool_mcp_change_valid"),
            models.CheckConstraint(
                condition=Q(inferred_access__in=["", *ToolAccess.values]), name="tool_inferred_access_valid"
            ),
            models.CheckConstraint(
                condition=Q(raised_access__in=["", *ToolAccess.values]), name="tool_raised_access_valid"
            ),
            # Raised, never lowered: the catalog's access covers what the annotations imply.
            models.CheckConstraint(
                condition=~Q(inferred_access=ToolAccess.WRITE) | Q(supports_write=True),
                name="tool_access_covers_inferred_write",
            ),
            models.CheckConstraint(
                condition=~Q(inferred_access=ToolAccess.EXECUTE) | Q(supports_execute=True),
                name="tool_access_covers_inferred_execute",
            ),
            # A changed tool carries what the scan read; nothing else does.
            models.CheckConstraint(
                condition=Q(mcp_change=McpToolChange.CHANGED, mcp_observed__isnull=False)
                | (~Q(mcp_change=McpToolChange.CHANGED) & Q(mcp_observed__isnull=True)),
                name="tool_mcp_observed_only_when_changed",
            ),
            # The MCP bookkeeping belongs to MCP tools only.
            models.CheckConstraint(
                condition=Q(mcp_server__isnull=False)
                | Q(mcp_change="", inferred_access="", raised_access="", mcp_approved_at__isnull=True),
                name="tool_mcp_fields_only_on_mcp_tools",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def max_access(self) -> str:
        """The widest access the catalog allows a grant of this tool."""
        return widest_access(self.supports_write, self.supports_execute)

    @property
    def is_mcp(self) -> bool:
        return self.mcp_server_id is not None

    def set_access(self, level: str) -> None:
        """Set the catalog's widest access (read, write or execute) through the two flags."""
        self.supports_write = level in (ToolAccess.WRITE, ToolAccess.EXECUTE)
        self.supports_execute = level == ToolAccess.EXECUTE

    def grant_refusal(self) -> str | None:
        """Why a new grant of this tool must be refused now (None: it may be granted).

        An MCP tool is granted only once the board has approved its server, and only as approved: a
        tool the board has not seen (new), one whose description, schema or hints changed since, or
        one the server no longer offers waits until the board accepts the change.
        """
        if not self.is_mcp:
            return None
        server = self.mcp_server
        if server.approved_at is None:
            return f"{self.key}: the MCP server {server.key} awaits governance board approval."
        if self.mcp_removed_at is not None:
            return f"{self.key}: the MCP server {server.key} no longer offers this tool."
        if self.mcp_change == McpToolChange.ADDED or self.mcp_approved_at is None:
            return f"{self.key}: this tool is new on {server.key} and awaits governance board approval."
        if self.mcp_change == McpToolChange.CHANGED:
            return (
                f"{self.key}: its description, schema or hints changed on {server.key}; it can be granted "
                "again once the governance board accepts the change."
            )
        return None


class McpServer(models.Model):
    """One Model Context Protocol server the enterprise's agents may call; its tools are catalog tools.

    Telemetry names a server by its address (``server.address``), so ``host`` is kept apart from the URL
    to match MCP client spans to the registered server.
    """

    key = models.CharField(max_length=80, unique=True, validators=[key_validator])
    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500, help_text="The server's MCP endpoint.")
    host = models.CharField(max_length=255, db_index=True, help_text="The URL's host, as telemetry reports it.")
    transport = models.CharField(max_length=24, choices=McpTransport.choices, default=McpTransport.STREAMABLE_HTTP)
    description = models.TextField(blank=True, max_length=2000)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mcp_servers")
    business_unit = models.ForeignKey("registry.BusinessUnit", on_delete=models.PROTECT, related_name="mcp_servers")
    approved_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the governance board last approved the server's tools (empty: never; no agent "
        "version may be granted its tools).",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scan_status = models.CharField(max_length=12, choices=McpScanStatus.choices, default=McpScanStatus.NEVER)
    scan_error = models.CharField(max_length=500, blank=True, help_text="Why the last scan could not read the tools.")
    last_scanned_at = models.DateTimeField(null=True, blank=True)
    last_reached_at = models.DateTimeField(
        null=True, blank=True, help_text="When a scan last read the server's tool list."
    )
    next_scan_at = models.DateTimeField(
        null=True, blank=True, help_text="When the scheduled rescan is due (empty: at the next run)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = McpServerQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        indexes = [
            # registry.tasks.scan_mcp_servers: the servers whose rescan is due.
            models.Index(fields=["next_scan_at"], name="mcp_server_next_scan_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(key__regex=KEY_PATTERN), name="mcp_server_key_format"),
            models.CheckConstraint(condition=Q(transport__in=McpTransport.values), name="mcp_server_transport_valid"),
            models.CheckConstraint(condition=Q(scan_status__in=McpScanStatus.values), name="mcp_server_scan_valid"),
            models.CheckConstraint(
                condition=Q(approved_at__isnull=False) | Q(approved_by__isnull=True),
                name="mcp_server_approver_only_when_approved",
            ),
            # Unreachable always says why.
            models.CheckConstraint(
                condition=~Q(scan_status=McpScanStatus.UNREACHABLE) | ~Q(scan_error=""),
                name="mcp_server_unreachable_has_error",
            ),
        ]
        verbose_name = "MCP server"

    def __str__(self) -> str:
        return self.name

    def approval(self, pending_changes: int | None = None) -> str:
        """Where the server stands with the board. ``pending_changes``: tools whose last scan differs from
        what was approved (read from the ``with_pending_changes()`` annotation when present)."""
        if self.approved_at is None:
            return McpApproval.AWAITING
        if pending_changes is None:
            pending_changes = getattr(self, "pending_changes", None)
        if pending_changes is None:
            pending_changes = self.tools.exclude(mcp_change=McpToolChange.NONE).count()
        return McpApproval.CHANGES_PENDING if pending_changes else McpApproval.APPROVED


class Agent(models.Model):
    """One AI agent the enterprise runs or plans to run, with its accountable owner.

    Classification facts (pattern, autonomy, external-facing, data) drive the
    risk tier and required controls that the governance layer derives.
    ``risk_tier`` is that layer's current answer, copied here so the catalog
    filters and sorts on it without a join.
    """

    # Identity
    key = models.CharField(
        max_length=100,
        unique=True,
        validators=[key_validator],
        help_text="Stable identifier matched against runtime telemetry (gen_ai.agent.id). "
        "It cannot change once telemetry has seen it.",
    )
    name = models.CharField(max_length=150)
    description = models.TextField(max_length=4000, blank=True)
    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="agents")

    # Accountability
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_agents")
    escalation_contact = models.CharField(
        max_length=200,
        blank=True,
        help_text="Who a human hand-off goes to: a person, a queue or an on-call rota.",
    )
    escalation_procedure = models.TextField(
        max_length=4000,
        blank=True,
        help_text="How and when the agent hands off to a human.",
    )

    # Purpose and boundaries
    objective = models.TextField(
        max_length=4000, blank=True, help_text="The primary objective, in one or two sentences."
    )
    allowed_actions = models.TextField(max_length=4000, blank=True, help_text="What the agent may do.")
    forbidden_actions = models.TextField(max_length=4000, blank=True, help_text="What the agent must never do.")
    inputs = models.TextField(max_length=4000, blank=True, help_text="The data and systems it reads.")
    actions = models.TextField(max_length=4000, blank=True, help_text="The actions it takes in other systems.")

    # Classification
    pattern = models.CharField(max_length=32, choices=Pattern.choices)
    autonomy_level = models.PositiveSmallIntegerField(
        choices=AutonomyLevel.choices,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    mode = models.CharField(
        max_length=16,
        choices=Mode.choices,
        editable=False,
        help_text="Derived from the autonomy level: 1-2 assist, 3-5 execute.",
    )
    # Blank only for an agent registered with the short form ("register now, complete later"):
    # the checklist on its page asks for it, and it cannot go to review without it.
    topology = models.CharField(max_length=32, choices=Topology.choices, blank=True, default="")
    runs_in_development = models.BooleanField(default=True)
    runs_in_staging = models.BooleanField(default=False)
    runs_in_production = models.BooleanField(default=False)
    external_facing = models.BooleanField(
        default=False,
        help_text="Talks to customers or partners across the enterprise trust boundary.",
    )
    data_classification = models.CharField(max_length=16, choices=DataClassification.choices)
    approval_threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="The largest amount the agent may commit without a human's approval (empty: no limit set). "
        "Gateways asking the decision API send the amount; anything above this needs a person.",
    )
    handles_personal_data = models.BooleanField(default=False)
    handles_regulated_data = models.BooleanField(default=False)

    # Lifecycle
    lifecycle = models.CharField(max_length=16, choices=Lifecycle.choices, default=Lifecycle.PROPOSED)
    lifecycle_changed_at = models.DateTimeField()
    production_since = models.DateTimeField(null=True, blank=True)
    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices, blank=True, default="")

    # What the agent can do as its A2A Agent Card describes it: the card's skills, each
    # {"id", "name", "description", "tags"}. A JSON list, not rows: it is read, diffed on
    # re-import and audited as a whole, always with its agent.
    capabilities = models.JSONField(default=list, blank=True, editable=False)
    endpoint_url = models.URLField(
        max_length=500, blank=True, editable=False, help_text="Where the agent answers (from its Agent Card)."
    )

    # Outcomes and adoption
    business_outcome = models.TextField(max_length=2000, blank=True)
    metric_name = models.CharField(max_length=150, blank=True)
    metric_unit = models.CharField(max_length=40, blank=True)
    metric_baseline = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    metric_target = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    metric_current = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    metric_updated_at = models.DateTimeField(null=True, blank=True)
    eligible_users = models.PositiveIntegerField(null=True, blank=True, help_text="Licensed or eligible users.")
    active_users = models.PositiveIntegerField(null=True, blank=True, help_text="Users active in the last 30 days.")

    # Bookkeeping
    key_locked_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When telemetry first reported this key; from then on the key is fixed.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Incremented on every change; an edit based on an older copy is refused
    # instead of silently overwriting someone else's change.
    row_version = models.PositiveIntegerField(default=1, editable=False)

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["name", "key"]
        permissions = [("manage_agent", "Can transfer ownership and manage delegates")]
        indexes = [
            # Default ordering of the catalog.
            models.Index(fields=["name", "key"], name="agent_name_idx"),
            # Catalog filters and the portfolio's group-bys.
            models.Index(fields=["lifecycle", "pattern"], name="agent_lifecycle_pattern_idx"),
            models.Index(fields=["risk_tier"], name="agent_risk_tier_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(autonomy_level__gte=1, autonomy_level__lte=5), name="agent_autonomy_1_5"
            ),
            models.CheckConstraint(
                condition=Q(autonomy_level__lte=2, mode=Mode.ASSIST) | Q(autonomy_level__gte=3, mode=Mode.EXECUTE),
                name="agent_mode_matches_autonomy",
            ),
            models.CheckConstraint(condition=Q(pattern__in=Pattern.values), name="agent_pattern_valid"),
            models.CheckConstraint(condition=Q(topology__in=["", *Topology.values]), name="agent_topology_valid"),
            models.CheckConstraint(condition=Q(lifecycle__in=Lifecycle.values), name="agent_lifecycle_valid"),
            models.CheckConstraint(
                condition=Q(data_classification__in=DataClassification.values),
                name="agent_data_classification_valid",
            ),
            models.CheckConstraint(condition=Q(risk_tier__in=["", *RiskTier.values]), name="agent_risk_tier_valid"),
            models.CheckConstraint(condition=Q(key__regex=KEY_PATTERN), name="agent_key_format"),
            models.CheckConstraint(
                condition=Q(approval_threshold__isnull=True) | Q(approval_threshold__gte=0),
                name="agent_approval_threshold_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(production_since__isnull=True)
                | ~Q(lifecycle__in=[Lifecycle.PROPOSED, Lifecycle.IN_REVIEW]),
                name="agent_production_since_only_after_release",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # The mode is never chosen: it follows from the autonomy level.
        if self.autonomy_level:
            self.mode = mode_for_autonomy(self.autonomy_level)
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        if self.autonomy_level:
            self.mode = mode_for_autonomy(self.autonomy_level)

    @property
    def environments(self) -> list[str]:
        envs = []
        if self.runs_in_development:
            envs.append("development")
        if self.runs_in_staging:
            envs.append("staging")
        if self.runs_in_production:
            envs.append("production")
        return envs

    def checklist(self, *, has_version: bool) -> list[tuple[str, str, bool]]:
        """What a complete record holds, as (code, label, done) in the order an owner fills it in.

        An agent registered with the short form starts with only its identity, owner, unit,
        purpose and classification; this is the list its page shows until the rest is there.
        """
        return [
            ("description", "Describe what the agent is", bool(self.description)),
            ("topology", "Say how it is deployed (topology)", bool(self.topology)),
            (
                "escalation",
                "Name an escalation contact and procedure",
                bool(self.escalation_contact and self.escalation_procedure),
            ),
            (
                "boundaries",
                "Write down what it may and must never do",
                bool(self.allowed_actions and self.forbidden_actions),
            ),
            ("inputs", "List what it reads and the actions it takes", bool(self.inputs and self.actions)),
            (
                "outcome",
                "State the business outcome and a success metric",
                bool(self.business_outcome and self.metric_name),
            ),
            ("version", "Record a version (model, prompt, tools)", has_version),
        ]

    @property
    def is_orphaned(self) -> bool:
        return not self.owner.is_active

    def adoption_rate(self) -> float | None:
        """Active users as a share of eligible users, or None where either is unknown."""
        if not self.eligible_users or self.active_users is None:
            return None
        return self.active_users / self.eligible_users


class AgentUserObjectPermission(UserObjectPermissionBase):
    """One object permission a user holds on one agent (owner or delegate).

    A direct foreign key instead of guardian's generic table: the generic
    object_pk varchar join slows down badly at enterprise size.
    """

    content_object = models.ForeignKey(Agent, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        ordering = ["id"]


class AgentGroupObjectPermission(GroupObjectPermissionBase):
    """One object permission a group holds on one agent."""

    content_object = models.ForeignKey(Agent, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        ordering = ["id"]


class AgentDelegate(models.Model):
    """One co-maintainer the owner granted to help keep one agent current.

    The edit right itself is the guardian object permission granted in the
    same transaction; this row is what pages list and what the audit names.
    """

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="delegations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delegations")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agent", "user"]
        constraints = [models.UniqueConstraint(fields=["agent", "user"], name="agent_delegate_unique")]

    def __str__(self) -> str:
        return f"{self.user} on {self.agent}"


class AgentVersion(models.Model):
    """One version of an agent's components: model, prompt, tools and orchestration.

    A release (governance) is a version approved for an environment.
    """

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="versions")
    label = models.CharField(max_length=40, help_text="Version label, for example 1.4.0.")
    model_provider = models.CharField(max_length=80)
    model_name = models.CharField(max_length=120)
    model_version = models.CharField(max_length=80, blank=True)
    prompt_version = models.CharField(max_length=80, blank=True)
    orchestration_version = models.CharField(max_length=80, blank=True)
    change_summary = models.TextField(max_length=4000, blank=True)
    tools = models.ManyToManyField(Tool, through="AgentVersionTool", related_name="versions", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = AgentVersionQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "-created_at", "-id"]
        indexes = [models.Index(fields=["agent", "-created_at", "-id"], name="version_agent_recent_idx")]
        constraints = [
            models.UniqueConstraint(fields=["agent", "label"], name="version_label_unique_per_agent"),
            models.CheckConstraint(condition=~Q(label=""), name="version_label_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.agent.key} {self.label}"


class AgentVersionTool(models.Model):
    """One tool a version may call, with read, write or execute access."""

    version = models.ForeignKey(AgentVersion, on_delete=models.CASCADE, related_name="tool_grants")
    tool = models.ForeignKey(Tool, on_delete=models.PROTECT, related_name="grants")
    access = models.CharField(max_length=8, choices=ToolAccess.choices, default=ToolAccess.READ)

    class Meta:
        ordering = ["version", "tool"]
        constraints = [
            models.UniqueConstraint(fields=["version", "tool"], name="version_tool_unique"),
            models.CheckConstraint(condition=Q(access__in=ToolAccess.values), name="version_tool_access_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.tool.key} ({self.access})"


class TrustedCardKey(models.Model):
    """One public key administrators trust to sign the A2A Agent Cards of one provider.

    A card signed with this key id verifies only if the card names this provider; a key for
    another provider does not vouch for it.
    """

    provider = models.CharField(max_length=200, help_text="The card's provider.organization, exactly.")
    kid = models.CharField(max_length=200, help_text="The key id (kid) the signatures name.")
    public_jwk = models.JSONField(help_text="The public key as a JWK (no private part).")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider", "kid"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "kid"], condition=Q(revoked_at__isnull=True), name="trusted_card_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} / {self.kid}"


class AgentCard(models.Model):
    """The A2A Agent Card an agent was registered or updated from, and a re-imported one awaiting
    its owner's confirmation (``pending_*``): nothing on the agent changes until then."""

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="card")
    spec_version = models.CharField(max_length=8, help_text="1.0 or 0.3.")
    source_url = models.URLField(max_length=500, blank=True)
    card = models.JSONField(blank=True, help_text="Empty until a first card is confirmed.")
    provider = models.CharField(max_length=200, blank=True)
    signature = models.CharField(max_length=16, choices=CardSignature.choices, default=CardSignature.UNVERIFIED)
    signed_with = models.CharField(max_length=200, blank=True, help_text="The trusted key id that verified it.")
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pending_card = models.JSONField(null=True, blank=True)
    pending_source_url = models.URLField(max_length=500, blank=True)
    pending_signature = models.CharField(max_length=16, choices=CardSignature.choices, blank=True)
    pending_signed_with = models.CharField(max_length=200, blank=True)
    pending_at = models.DateTimeField(null=True, blank=True)
    pending_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["agent"]
        constraints = [
            # An invalid signature is refused at import; it is never on record.
            models.CheckConstraint(
                condition=Q(signature__in=[CardSignature.VERIFIED, CardSignature.UNVERIFIED]),
                name="agent_card_signature_valid",
            ),
            models.CheckConstraint(
                condition=Q(pending_signature__in=["", CardSignature.VERIFIED, CardSignature.UNVERIFIED]),
                name="agent_card_pending_signature_valid",
            ),
            models.CheckConstraint(
                condition=Q(pending_card__isnull=True) | Q(pending_at__isnull=False),
                name="agent_card_pending_dated",
            ),
        ]

    def __str__(self) -> str:
        return f"Agent card of {self.agent.key}"


class Stop(models.Model):
    """One stop switch: while it is in force, every runtime decision it covers is refused (reason ``stopped``).

    A stop is not a lifecycle change: the agent keeps its state, versions and
    releases, and lifting the stop gives back exactly what was there before.
    ``scope`` says what it covers; exactly one target column is set to match
    (``pattern`` for a pattern stop). At most one stop is in force per target.
    """

    scope = models.CharField(max_length=16, choices=StopScope.choices)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, null=True, blank=True, related_name="stops")
    business_unit = models.ForeignKey(
        BusinessUnit, on_delete=models.CASCADE, null=True, blank=True, related_name="stops"
    )
    pattern = models.CharField(max_length=32, choices=Pattern.choices, blank=True)
    tool = models.ForeignKey(Tool, on_delete=models.CASCADE, null=True, blank=True, related_name="stops")
    mcp_server = models.ForeignKey(McpServer, on_delete=models.CASCADE, null=True, blank=True, related_name="stops")
    reason = models.TextField(max_length=2000)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(max_length=2000, blank=True)

    objects = StopQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # The runtime snapshot and every page read the stops in force.
            models.Index(fields=["scope"], condition=Q(lifted_at__isnull=True), name="stop_in_force_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=StopScope.values), name="stop_scope_valid"),
            models.CheckConstraint(condition=~Q(reason=""), name="stop_reason_given"),
            models.CheckConstraint(
                condition=(
                    Q(
                        scope=StopScope.AGENT,
                        agent__isnull=False,
                        business_unit__isnull=True,
                        pattern="",
                        tool__isnull=True,
                        mcp_server__isnull=True,
                    )
                    | Q(
                        scope=StopScope.BUSINESS_UNIT,
                        agent__isnull=True,
                        business_unit__isnull=False,
                        pattern="",
                        tool__isnull=True,
                        mcp_server__isnull=True,
                    )
                    | Q(
                        Q(scope=StopScope.PATTERN, pattern__in=Pattern.values),
                        agent__isnull=True,
                        business_unit__isnull=True,
                        tool__isnull=True,
                        mcp_server__isnull=True,
                    )
                    | Q(
                        scope=StopScope.TOOL,
                        agent__isnull=True,
                        business_unit__isnull=True,
                        pattern="",
                        tool__isnull=False,
                        mcp_server__isnull=True,
                    )
                    | Q(
                        scope=StopScope.MCP_SERVER,
                        agent__isnull=True,
                        business_unit__isnull=True,
                        pattern="",
                        tool__isnull=True,
                        mcp_server__isnull=False,
                    )
                ),
                name="stop_target_matches_scope",
            ),
            # Lifted means all three: who, when and why.
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True, lifted_by__isnull=True, lift_reason="")
                | (Q(lifted_at__isnull=False) & ~Q(lift_reason="")),
                name="stop_lift_complete",
            ),
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True) | Q(lifted_at__gte=models.F("started_at")),
                name="stop_lifted_after_start",
            ),
            models.UniqueConstraint(
                fields=["agent"], condition=Q(lifted_at__isnull=True, scope="agent"), name="stop_one_per_agent"
            ),
            models.UniqueConstraint(
                fields=["business_unit"],
                condition=Q(lifted_at__isnull=True, scope="business_unit"),
                name="stop_one_per_business_unit",
            ),
            models.UniqueConstraint(
                fields=["pattern"], condition=Q(lifted_at__isnull=True, scope="pattern"), name="stop_one_per_pattern"
            ),
            models.UniqueConstraint(
                fields=["tool"], condition=Q(lifted_at__isnull=True, scope="tool"), name="stop_one_per_tool"
            ),
            models.UniqueConstraint(
                fields=["mcp_server"],
                condition=Q(lifted_at__isnull=True, scope="mcp_server"),
                name="stop_one_per_mcp_server",
            ),
        ]

    def __str__(self) -> str:
        return f"Stop of {self.target_label}"

    @property
    def in_force(self) -> bool:
        return self.lifted_at is None

    @property
    def target(self):
        if self.scope == StopScope.PATTERN:
            return self.pattern
        return getattr(self, self.scope)

    @property
    def target_label(self) -> str:
        if self.scope == StopScope.PATTERN:
            return f"pattern {Pattern(self.pattern).label}" if self.pattern in Pattern.values else self.pattern
        target = self.target
        return f"{StopScope(self.scope).label.lower()} {target}" if target is not None else self.scope

    @property
    def target_key(self) -> str:
        """The target as the decision API and Cedar name it (key, slug or pattern value)."""
        if self.scope == StopScope.PATTERN:
            return self.pattern
        if self.scope == StopScope.BUSINESS_UNIT:
            return self.business_unit.slug
        return self.target.key


class ApiToken(models.Model):
    """One personal API token. Only its SHA-256 digest is stored; the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters, to tell tokens apart.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="api_token_user_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditEvent(models.Model):
    """One entry of the append-only, hash-chained audit trail.

    Worked examples: an owner edits an agent's objective -> ``agent.changed``
    with ``before={"objective": "old"}`` and ``after={"objective": "new"}``; a
    board member accepts evidence -> ``evidence.accepted`` whose target is the
    evidence and whose ``agent`` is the agent it belongs to, so it shows on the
    agent's timeline.

    ``hash`` covers every stored field that describes the event plus the
    previous entry's hash, so changing or removing any entry breaks the chain
    from there on (``manage.py verify_audit``). The actor and agent foreign
    keys are conveniences outside the hash; the ``*_repr`` copies are inside.
    """

    seq = models.BigIntegerField(unique=True, editable=False)
    occurred_at = models.DateTimeField(editable=False)
    # DO_NOTHING and no database constraint: the trail never changes, not even
    # to null out an actor or agent that is later removed; the *_repr copies stay.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    actor_repr = models.CharField(max_length=200)
    event_type = models.CharField(max_length=64)
    target_type = models.CharField(max_length=100)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=300)
    agent = models.ForeignKey(
        Agent,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    correlation_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        indexes = [
            # The agent page's timeline.
            models.Index(fields=["agent", "-seq"], name="audit_agent_seq_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["event_type", "-seq"], name="audit_event_type_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type} {self.target_repr}"


# --- Directory sync (SCIM) and owner continuity ------------------------------------------


class DirectoryEntry(models.Model):
    """The company directory's record of one person, kept in step by SCIM provisioning.

    ``scim_id`` is the id the identity provider addresses the person by. ``manager_scim_id`` is the
    manager as the directory names them (the Enterprise User extension's ``manager.value``), resolved
    when needed, so a manager provisioned after their report still counts.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="directory")
    scim_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    external_id = models.CharField(max_length=255, blank=True)
    manager_scim_id = models.CharField(max_length=255, blank=True)
    department = models.CharField(max_length=200, blank=True)
    employee_number = models.CharField(max_length=64, blank=True)
    # The unit the person left when the directory last moved them; the agents they kept show it.
    previous_unit = models.ForeignKey(BusinessUnit, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    unit_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering = ["user"]
        verbose_name_plural = "directory entries"
        constraints = [
            # The identity provider filters on externalId; it must name one person.
            models.UniqueConstraint(
                fields=["external_id"], condition=~Q(external_id=""), name="directory_external_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.scim_id})"


class DirectoryGroup(models.Model):
    """One group the identity provider pushed; its members get the roles mapped to its name."""

    scim_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=200, unique=True)
    external_id = models.CharField(max_length=255, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="directory_groups", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class GroupRoleMapping(models.Model):
    """One line of the table administrators edit: members of the directory group named ``group_name``
    hold ``role``. Matched by name (case-insensitive) so a mapping can exist before the group is pushed."""

    group_name = models.CharField(max_length=200)
    role = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering = ["group_name", "role"]
        constraints = [
            models.UniqueConstraint(Lower("group_name"), "role", name="group_role_mapping_unique"),
            models.CheckConstraint(
                condition=Q(role__in=["governance_board", "leadership_viewer", "platform_admin"]),
                name="group_role_mapping_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group_name} → {self.role}"


class ScimToken(models.Model):
    """A bearer token the identity provider uses on /scim/v2/ and nowhere else. Only its digest is kept."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "SCIM token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class HandoverProposal(models.Model):
    """A proposal to hand one agent of a deprovisioned owner to another person, who accepts or declines.

    The board may reassign a proposal to someone else (a new proposal). Proposals are never deleted.
    """

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="handovers")
    from_owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handovers_proposed",
    )
    basis = models.CharField(max_length=16, choices=HandoverBasis.choices)
    status = models.CharField(max_length=16, choices=HandoverStatus.choices, default=HandoverStatus.PENDING)
    note = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = HandoverQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "Handovers waiting for me" on the handovers page.
            models.Index(
                fields=["proposed_to", "-created_at"],
                condition=Q(status="pending"),
                name="handover_pending_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["agent"], condition=Q(status="pending"), name="handover_one_pending"),
            models.CheckConstraint(condition=Q(status__in=HandoverStatus.values), name="handover_status_valid"),
            models.CheckConstraint(condition=Q(basis__in=HandoverBasis.values), name="handover_basis_valid"),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False), name="handover_decided_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} → {self.proposed_to or 'nobody yet'}"


class ProcessLease(models.Model):
    """The right, held by one process at a time, to run a singleton such as Celery beat.

    ``holder`` (host, pid and a random part) holds it until ``expires_at`` and renews it well before.
    It is taken, renewed and given back only by single conditional UPDATE statements
    (registry/leases.py): no session-level lock, which a transaction-pooling PgBouncer would hand to
    another client, and no long transaction. A holder that dies keeps it until ``expires_at``.
    """

    name = models.CharField(max_length=100, primary_key=True)
    holder = models.CharField(max_length=255, blank=True, help_text="Empty while nobody holds it.")
    acquired_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at:%Y-%m-%d %H:%M:%S}"
