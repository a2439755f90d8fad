"""API representations of the runtime tables. Writes go through ``runtime.services``."""

from rest_framework import serializers

from runtime.models import DenialRecord, GatewayCredential
from telemetry.models import TelemetrySource


class GatewayCredentialSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", queryset=TelemetrySource.objects.all())
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = GatewayCredential
        fields = ["id", "name", "source", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]


class MintedCredentialSerializer(GatewayCredentialSerializer):
    credential = serializers.CharField(read_only=True, help_text="The raw credential: shown this once, never again.")

    class Meta(GatewayCredentialSerializer.Meta):
        fields = [*GatewayCredentialSerializer.Meta.fields, "credential"]


class DenialRecordSerializer(serializers.ModelSerializer):
    agent = serializers.SlugRelatedField(slug_field="key", read_only=True)
    caller = serializers.CharField(source="credential.name", read_only=True)

    class Meta:
        model = DenialRecord
        fields = [
            "id",
            "minute",
            "agent",
            "subject",
            "action",
            "resource",
            "environment",
            "reason",
            "count",
            "first_at",
            "last_at",
            "caller",
        ]
        read_only_fields = fields


class CedarExportSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="The decision version the export was built from.")
    policies = serializers.CharField(help_text="The Cedar policy set in force.")
    schema = serializers.DictField(help_text="The Cedar schema (JSON form).")
    entities = serializers.ListField(child=serializers.DictField(), help_text="Cedar entities (JSON form).")
