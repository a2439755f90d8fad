"""API representations. Writes go through the registry services, never ``serializer.save()`` directly."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.api.fields import LookupField
from registry.choices import Lifecycle, McpApproval, Pattern, RiskTier, StopScope, ToolAccess
from registry.models import (
    Agent,
    AgentVersion,
    AgentVersionTool,
    BusinessUnit,
    HandoverProposal,
    McpServer,
    Stop,
    Tool,
    User,
)
from registry.services import EDITABLE_AGENT_FIELDS, EDITABLE_MCP_SERVER_FIELDS


class DisplayMixin(serializers.Serializer):
    display = serializers.SerializerMethodField()

    def get_display(self, obj) -> str:
        return str(obj)


class UserBriefSerializer(serializers.ModelSerializer):
    display = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = User
        fields = ["username", "display", "is_active", "kind"]


class BusinessUnitSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:businessunit-detail", lookup_field="slug")
    parent = LookupField(slug_field="slug", queryset=BusinessUnit.objects.all(), allow_null=True, required=False)

    class Meta:
        model = BusinessUnit
        fields = ["url", "display", "id", "name", "slug", "parent", "path", "description"]
        read_only_fields = ["path"]


class ToolSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:tool-detail", lookup_field="key")

    class Meta:
        model = Tool
        fields = [
            "url",
            "display",
            "id",
            "key",
            "name",
            "description",
            "system",
            "supports_write",
            "supports_execute",
            "mcp_server",
            "mcp_name",
            "inferred_access",
            "created_at",
        ]
        read_only_fields = ["mcp_server", "mcp_name", "inferred_access"]

    mcp_server = serializers.SlugRelatedField(
        slug_field="key", read_only=True, allow_null=True, help_text="The MCP server offering the tool (null: none)."
    )
    inferred_access = serializers.ChoiceField(
        choices=ToolAccess.choices,
        allow_blank=True,
        read_only=True,
        help_text="For an MCP tool, the access its annotations imply (empty for other tools).",
    )


class McpToolSerializer(serializers.ModelSerializer):
    """One tool of an MCP server as the board approved it, with what a later scan found."""

    access = serializers.CharField(source="max_access", read_only=True, help_text="The widest access a grant may have.")
    change = serializers.CharField(
        source="mcp_change", read_only=True, help_text="added, changed, removed, or empty: as approved."
    )
    observed = serializers.JSONField(
        source="mcp_observed", read_only=True, help_text="For a changed tool: what the last scan read."
    )
    grantable = serializers.SerializerMethodField()

    class Meta:
        model = Tool
        fields = [
            "key",
            "name",
            "mcp_name",
            "description",
            "input_schema",
            "annotations",
            "inferred_access",
            "access",
            "change",
            "observed",
            "mcp_approved_at",
            "mcp_removed_at",
            "grantable",
        ]
        read_only_fields = fields

    def get_grantable(self, obj) -> bool:
        return obj.grant_refusal() is None


class McpServerSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:mcpserver-detail", lookup_field="key")
    html_url = serializers.SerializerMethodField()
    endpoint = serializers.URLField(source="url", max_length=500, help_text="The server's MCP endpoint.")
    business_unit = LookupField(slug_field="slug", queryset=BusinessUnit.objects.all())
    owner = LookupField(
        slug_field="username",
        queryset=User.objects.all(),
        required=False,
        help_text="Username of the accountable owner (an active person). Defaults to you.",
    )
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    approval = serializers.SerializerMethodField()
    tools = McpToolSerializer(many=True, read_only=True)

    class Meta:
        model = McpServer
        fields = [
            "url",
            "html_url",
            "display",
            "id",
            "key",
            "name",
            "endpoint",
            "host",
            "transport",
            "description",
            "owner",
            "business_unit",
            "approval",
            "approved_at",
            "approved_by",
            "scan_status",
            "scan_error",
            "last_scanned_at",
            "last_reached_at",
            "next_scan_at",
            "tools",
            "created_at",
        ]
        read_only_fields = [
            "host",
            "approved_at",
            "scan_status",
            "scan_error",
            "last_scanned_at",
            "last_reached_at",
            "next_scan_at",
            "created_at",
        ]
        validators: list = []
        extra_kwargs = {"key": {"validators": []}}

    def get_html_url(self, obj) -> str:
        request = self.context.get("request")
        path = reverse("registry:mcp-detail", args=[obj.key])
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(serializers.ChoiceField(choices=McpApproval.choices))
    def get_approval(self, obj) -> str:
        pending = sum(1 for tool in obj.tools.all() if tool.mcp_change)
        return obj.approval(pending)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            self.fields["business_unit"].queryset = BusinessUnit.objects.for_user(request.user, "view")
            self.fields["owner"].queryset = User.objects.for_user(request.user, "view")

    def service_fields(self) -> dict:
        data = dict(self.validated_data)
        return {k: v for k, v in data.items() if k in (*EDITABLE_MCP_SERVER_FIELDS, "key", "owner")}


class McpApproveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class AgentSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:agent-detail", lookup_field="key")
    html_url = serializers.SerializerMethodField()
    business_unit = LookupField(slug_field="slug", queryset=BusinessUnit.objects.all())
    owner = LookupField(
        slug_field="username",
        queryset=User.objects.all(),
        required=False,
        help_text="Username of the accountable owner (an active person). Defaults to you. "
        "Changed only through the transfer action.",
    )
    delegates = serializers.SerializerMethodField()
    environments = serializers.ListField(child=serializers.CharField(), read_only=True)
    row_version = serializers.IntegerField(
        required=False,
        help_text="Send back the row_version you read; an update based on an older copy is refused with 409.",
    )
    # Declared so the schema says what the API sends: "" until a risk assessment sets the tier.
    risk_tier = serializers.ChoiceField(
        choices=RiskTier.choices, allow_blank=True, read_only=True, help_text="Empty until a risk assessment sets it."
    )

    class Meta:
        model = Agent
        fields = [
            "url",
            "html_url",
            "display",
            "id",
            *EDITABLE_AGENT_FIELDS,
            "owner",
            "delegates",
            "mode",
            "environments",
            "lifecycle",
            "lifecycle_changed_at",
            "production_since",
            "risk_tier",
            "metric_updated_at",
            "key_locked_at",
            "created_at",
            "updated_at",
            "row_version",
        ]
        read_only_fields = [
            "mode",
            "lifecycle",
            "lifecycle_changed_at",
            "production_since",
            "risk_tier",
            "metric_updated_at",
            "key_locked_at",
            "created_at",
            "updated_at",
        ]
        # Uniqueness is checked by the service (and the database), which reports it on the field.
        validators: list = []
        extra_kwargs = {"key": {"validators": []}}

    def get_html_url(self, obj) -> str:
        request = self.context.get("request")
        path = reverse("registry:agent-detail", args=[obj.key])
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_delegates(self, obj) -> list[str]:
        return [d.user.username for d in obj.delegations.all()]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # A user can only attach what they can see.
            self.fields["business_unit"].queryset = BusinessUnit.objects.for_user(request.user, "view")
            self.fields["owner"].queryset = User.objects.for_user(request.user, "view")


class TransitionSerializer(serializers.Serializer):
    to_state = serializers.ChoiceField(choices=Lifecycle.choices)
    reason = serializers.CharField(max_length=2000)


class TransferSerializer(serializers.Serializer):
    new_owner = LookupField(slug_field="username", queryset=User.objects.all())
    reason = serializers.CharField(max_length=2000)


class DelegateSerializer(serializers.Serializer):
    user = LookupField(slug_field="username", queryset=User.objects.all())


class ToolGrantSerializer(serializers.ModelSerializer):
    tool = LookupField(slug_field="key", queryset=Tool.objects.all())
    access = serializers.ChoiceField(choices=ToolAccess.choices, default=ToolAccess.READ)

    class Meta:
        model = AgentVersionTool
        fields = ["tool", "access"]


class AgentVersionSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:agentversion-detail")
    agent = LookupField(slug_field="key", queryset=Agent.objects.all())
    tools = ToolGrantSerializer(source="tool_grants", many=True, required=False)

    class Meta:
        model = AgentVersion
        fields = [
            "url",
            "display",
            "id",
            "agent",
            "label",
            "model_provider",
            "model_name",
            "model_version",
            "prompt_version",
            "orchestration_version",
            "change_summary",
            "tools",
            "created_at",
        ]
        validators: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # Visible agents resolve; whether the caller may add a version is the service's 403.
            self.fields["agent"].queryset = Agent.objects.for_user(request.user, "view")


class HandoverSerializer(DisplayMixin, serializers.ModelSerializer):
    """A proposal to hand a deprovisioned owner's agent to another person."""

    url = serializers.HyperlinkedIdentityField(view_name="api:handover-detail")
    agent = serializers.SlugRelatedField(slug_field="key", read_only=True)
    from_owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    proposed_to = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = HandoverProposal
        fields = [
            "url",
            "display",
            "id",
            "agent",
            "from_owner",
            "proposed_to",
            "basis",
            "status",
            "note",
            "created_at",
            "decided_at",
            "decided_by",
        ]
        read_only_fields = fields


class HandoverNoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class HandoverReassignSerializer(serializers.Serializer):
    proposed_to = LookupField(slug_field="username", queryset=User.objects.eligible_owners())
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class StopSerializer(serializers.ModelSerializer):
    """A stop, in force or lifted; ``target`` is the key, slug or pattern it covers."""

    target = serializers.CharField(source="target_key", read_only=True)
    in_force = serializers.BooleanField(read_only=True)
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    lifted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Stop
        fields = [
            "id",
            "scope",
            "target",
            "in_force",
            "reason",
            "started_by",
            "started_at",
            "lifted_by",
            "lifted_at",
            "lift_reason",
        ]
        read_only_fields = fields


class StartStopSerializer(serializers.Serializer):
    """Start a stop: ``target`` is the agent's or tool's or MCP server's key, the unit's slug or the pattern."""

    scope = serializers.ChoiceField(choices=StopScope.choices)
    target = serializers.CharField(max_length=120)
    reason = serializers.CharField(max_length=2000)

    def validate(self, data):
        scope, target = data["scope"], data["target"].strip()
        if scope == StopScope.PATTERN:
            if target not in Pattern.values:
                raise serializers.ValidationError({"target": f"Use one of {', '.join(Pattern.values)}."})
            data["target_object"] = target
            return data
        model, field = {
            StopScope.AGENT: (Agent, "key"),
            StopScope.BUSINESS_UNIT: (BusinessUnit, "slug"),
            StopScope.TOOL: (Tool, "key"),
            StopScope.MCP_SERVER: (McpServer, "key"),
        }[scope]
        queryset = model.objects.all()
        if scope == StopScope.AGENT:
            queryset = Agent.objects.for_user(self.context["request"].user, "view")
        found = queryset.filter(**{field: target}).first()
        if found is None:
            raise serializers.ValidationError(
                {"target": f"No {StopScope(scope).label.lower()} has the {field} {target!r}."}
            )
        data["target_object"] = found
        return data


class LiftStopSerializer(serializers.Serializer):
    lift_reason = serializers.CharField(max_length=2000)
