"""Telemetry API representations. Writes go through telemetry services."""

from rest_framework import serializers

from registry.api.fields import LookupField
from registry.models import Agent, User
from telemetry.models import (
    DailyEvaluation,
    DailyToolUsage,
    DailyUsage,
    IdentityAlias,
    IngestToken,
    RejectedItem,
    RejectionCount,
    Sighting,
    TelemetrySource,
)


class IngestTokenSerializer(serializers.ModelSerializer):
    display = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = IngestToken
        fields = ["id", "display", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class TelemetrySourceSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:telemetrysource-detail")
    display = serializers.CharField(source="__str__", read_only=True)
    owner = LookupField(slug_field="username", queryset=User.objects.all(), required=False, allow_null=True)
    tokens = IngestTokenSerializer(many=True, read_only=True)

    class Meta:
        model = TelemetrySource
        fields = [
            "url",
            "display",
            "id",
            "name",
            "kind",
            "description",
            "owner",
            "active",
            "default_environment",
            "environment_aliases",
            "created_at",
            "tokens",
        ]
        read_only_fields = ["created_at"]
        validators: list = []
        extra_kwargs = {"name": {"validators": []}}


class NewTokenSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)


class CreatedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The raw token. It is shown this once and never again.")
    detail = IngestTokenSerializer()


class RevokeTokenSerializer(serializers.Serializer):
    token_id = serializers.IntegerField()


class SightingSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:sighting-detail")
    display = serializers.CharField(source="__str__", read_only=True)
    agent = serializers.SlugRelatedField(slug_field="key", read_only=True)
    source = serializers.StringRelatedField()

    class Meta:
        model = Sighting
        fields = [
            "url",
            "display",
            "id",
            "identity",
            "agent",
            "agent_name",
            "service_name",
            "environment",
            "environment_label",
            "source",
            "first_seen_at",
            "last_seen_at",
            "event_count",
        ]
        read_only_fields = fields


class DailyUsageSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:dailyusage-detail")
    display = serializers.CharField(source="__str__", read_only=True)
    agent = serializers.SlugRelatedField(slug_field="key", read_only=True)
    average_latency_ms = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = DailyUsage
        fields = [
            "url",
            "display",
            "id",
            "agent",
            "day",
            "environment",
            "invocations",
            "errors",
            "tool_calls",
            "escalations",
            "heartbeats",
            "input_tokens",
            "output_tokens",
            "cost",
            "average_latency_ms",
            "latency_ms_max",
        ]
        read_only_fields = fields


class DailyToolUsageSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:dailytoolusage-detail")
    display = serializers.CharField(source="__str__", read_only=True)
    agent = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = DailyToolUsage
        fields = ["url", "display", "id", "agent", "day", "tool_name", "server_address", "calls", "errors"]
        fields += ["last_called_at"]
        read_only_fields = fields


class DailyEvaluationSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:dailyevaluation-detail")
    display = serializers.CharField(source="__str__", read_only=True)
    agent = serializers.SlugRelatedField(slug_field="key", read_only=True)
    mean_score = serializers.FloatField(read_only=True, allow_null=True, help_text="score_sum / scored.")

    class Meta:
        model = DailyEvaluation
        fields = ["url", "display", "id", "agent", "day", "name", "results", "scored", "score_sum", "mean_score"]
        fields += ["score_min", "score_max", "last_label", "last_at"]
        read_only_fields = fields


class IdentityAliasSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:identityalias-detail")
    display = serializers.CharField(source="__str__", read_only=True)
    agent = LookupField(slug_field="key", queryset=Agent.objects.all())

    class Meta:
        model = IdentityAlias
        fields = ["url", "display", "id", "agent", "identity", "created_at"]
        read_only_fields = ["created_at"]
        validators: list = []
        extra_kwargs = {"identity": {"validators": []}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            self.fields["agent"].queryset = Agent.objects.for_user(request.user, "view")


class RejectionCountSerializer(serializers.ModelSerializer):
    class Meta:
        model = RejectionCount
        fields = ["day", "reason", "count"]
        read_only_fields = fields


class IngestDaySerializer(serializers.Serializer):
    """One day of a source's intake (``IngestDay.objects.totals()``: its parts summed)."""

    day = serializers.DateField(read_only=True)
    received = serializers.IntegerField(read_only=True)
    rejected = serializers.IntegerField(read_only=True)
    rejected_share = serializers.FloatField(read_only=True)


class RejectedItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = RejectedItem
        fields = ["id", "received_at", "reason", "message", "payload"]
        read_only_fields = fields


class SourceRejectionsSerializer(serializers.Serializer):
    """What a source had refused: per day, per day and reason, and the last items in full."""

    days = IngestDaySerializer(many=True)
    reasons = RejectionCountSerializer(many=True)
    items = RejectedItemSerializer(many=True)
    held_spans = serializers.IntegerField(help_text="Child spans waiting now for their agent span.")
