"""Read-mostly admin views; changes to sources and tokens go through the telemetry pages and services."""

from django.contrib import admin

from telemetry.models import (
    DailyEvaluation,
    DailyToolUsage,
    DailyUsage,
    ExternalIdentity,
    IdentityAlias,
    IngestToken,
    Sighting,
    TelemetrySource,
    ToolUse,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TelemetrySource)
class TelemetrySourceAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "owner", "active", "created_at"]
    list_filter = ["kind", "active"]


@admin.register(IngestToken)
class IngestTokenAdmin(ReadOnlyAdmin):
    list_display = ["source", "prefix", "name", "created_at", "last_used_at", "revoked_at"]
    exclude = ["digest"]


@admin.register(Sighting)
class SightingAdmin(ReadOnlyAdmin):
    list_display = ["identity", "environment", "source", "agent", "first_seen_at", "last_seen_at", "event_count"]
    list_filter = ["environment", "source"]
    search_fields = ["identity", "agent_name", "service_name"]


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = ["agent", "day", "environment", "invocations", "errors", "input_tokens", "output_tokens", "cost"]
    list_filter = ["environment"]


@admin.register(IdentityAlias)
class IdentityAliasAdmin(ReadOnlyAdmin):
    list_display = ["identity", "agent", "created_at"]


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(ReadOnlyAdmin):
    list_display = ["identity", "expires_at", "marked_by", "marked_at"]


@admin.register(DailyToolUsage)
class DailyToolUsageAdmin(ReadOnlyAdmin):
    list_display = ["agent", "day", "tool_name", "server_address", "calls", "errors", "last_called_at"]
    search_fields = ["tool_name", "server_address", "agent__key"]


@admin.register(ToolUse)
class ToolUseAdmin(ReadOnlyAdmin):
    list_display = ["agent", "tool_name", "server_address", "calls", "first_called_at", "last_called_at"]
    search_fields = ["tool_name", "server_address", "agent__key"]


@admin.register(DailyEvaluation)
class DailyEvaluationAdmin(ReadOnlyAdmin):
    list_display = ["agent", "day", "name", "results", "scored", "mean_score", "score_min", "last_label"]
    search_fields = ["name", "agent__key"]
