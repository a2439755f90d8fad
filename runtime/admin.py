"""Runtime tables in the admin: read-only, except the policy switches, which go through the service."""

from django.contrib import admin

from runtime import services
from runtime.models import AllowCount, DenialRecord, GatewayCredential, RuntimePolicy


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(GatewayCredential)
class GatewayCredentialAdmin(ReadOnlyAdmin):
    list_display = ["name", "source", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["digest"]


@admin.register(DenialRecord)
class DenialRecordAdmin(ReadOnlyAdmin):
    list_display = ["minute", "subject", "action", "resource", "environment", "reason", "count", "credential"]
    list_filter = ["reason", "environment"]


@admin.register(AllowCount)
class AllowCountAdmin(ReadOnlyAdmin):
    list_display = ["day", "agent", "credential", "count"]


@admin.register(RuntimePolicy)
class RuntimePolicyAdmin(admin.ModelAdmin):
    """The optional rules; saving goes through ``services.update_runtime_policy`` (audited, version bumped)."""

    fields = ["deny_open_critical_finding", "deny_monitoring_lapsed", "version", "updated_at", "updated_by"]
    readonly_fields = ["version", "updated_at", "updated_by"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.update_runtime_policy(
            actor=request.user, **{name: form.cleaned_data[name] for name in services.POLICY_FIELDS}
        )
