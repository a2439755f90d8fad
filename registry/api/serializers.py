"""API representations. Writes go through the registry services, never ``serializer.save()`` directly."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.api.fields import LookupField
from registry.choices import Lifecycle, RiskTier, ToolAccess
from registry.models import Agent, AgentVersion, AgentVersionTool, BusinessUnit, Tool, User
from registry.services import EDITABLE_AGENT_FIELDS


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
            "created_at",
        ]


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
