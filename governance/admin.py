"""Django admin for governance. Policy and controls are edited here by platform administrators;
every edit publishes a new policy version through ``publish_policy`` (audited), never
changing a version that decisions reference. Everything else is read-only here: decisions
are made through the pages and the API, which run the same services and the release gate."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from governance import services
from governance.models import (
    Control,
    Evidence,
    Incident,
    Release,
    Review,
    ReviewCondition,
    RiskAssessment,
    RiskPolicy,
    Waiver,
)
from governance.services.policy import CONTROL_FIELDS, POLICY_FIELDS, _validate_policy
from registry.exceptions import Conflict


class RiskPolicyForm(forms.ModelForm):
    class Meta:
        model = RiskPolicy
        fields = ["notes", *POLICY_FIELDS]

    def clean(self):
        data = super().clean()
        if not (data.get("notes") or "").strip():
            self.add_error("notes", "Say what changes in this version and why.")
        if all(name in data for name in POLICY_FIELDS):
            _validate_policy({name: data[name] for name in POLICY_FIELDS})
        return data


class PublishingAdmin(admin.ModelAdmin):
    """Saving publishes a new version; the edited row itself never changes."""

    def has_delete_permission(self, request, obj=None):
        return False

    def _publish(self, request, **kwargs):
        try:
            return services.publish_policy(RiskPolicy.objects.current(), actor=request.user, **kwargs)
        except (ValidationError, Conflict, PermissionDenied) as exc:
            message = exc.message if isinstance(exc, Conflict) else " ".join(getattr(exc, "messages", [str(exc)]))
            messages.error(request, f"Nothing was published: {message}")
            return None


@admin.register(RiskPolicy)
class RiskPolicyAdmin(PublishingAdmin):
    form = RiskPolicyForm
    list_display = ["version", "notes", "created_at", "created_by"]
    readonly_fields = ["version", "created_at", "created_by"]

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in POLICY_FIELDS if name in form.changed_data}
        published = self._publish(request, notes=form.cleaned_data["notes"], changes=changes)
        if published is not None:
            obj.pk, obj.version = published.pk, published.version
            messages.success(request, f"Published policy v{published.version}.")

    def save_related(self, request, form, formsets, change):
        pass


@admin.register(Control)
class ControlAdmin(PublishingAdmin):
    list_display = ["code", "name", "validity", "validity_days", "nist_function", "eu_ai_act_article", "policy"]
    list_filter = ["policy", "validity", "nist_function"]
    search_fields = ["code", "name"]
    fields = ["policy", "code", *CONTROL_FIELDS]
    readonly_fields = ["policy"]

    def get_readonly_fields(self, request, obj=None):
        return ["policy", "code"] if obj is not None else ["policy"]

    def save_model(self, request, obj, form, change):
        edit = {name: form.cleaned_data[name] for name in CONTROL_FIELDS if name in form.changed_data}
        code = obj.code
        published = self._publish(
            request,
            notes=f"{'Changed' if change else 'Added'} control {code} in the admin.",
            control_changes={code: edit if change else {name: form.cleaned_data[name] for name in CONTROL_FIELDS}},
        )
        if published is not None:
            new = published.controls.get(code=code)
            obj.pk, obj.policy = new.pk, published
            messages.success(request, f"Published policy v{published.version} with the change to {code}.")

    def save_related(self, request, form, formsets, change):
        pass


class ReadOnlyAdmin(admin.ModelAdmin):
    """Visible to administrators for support; changes go through the pages and API (services, gate, audit)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(ReadOnlyAdmin):
    list_display = [
        "agent",
        "status",
        "computed_tier",
        "override_tier",
        "eu_ai_act_category",
        "submitted_at",
        "stale_at",
    ]
    list_filter = ["status", "computed_tier", "eu_ai_act_category"]


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdmin):
    list_display = ["agent", "control_code", "kind", "status", "submitted_at", "valid_until"]
    list_filter = ["status", "kind"]
    exclude = ["file"]


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["agent", "kind", "version", "environment", "status", "decision", "due_at"]
    list_filter = ["kind", "status", "decision"]


@admin.register(ReviewCondition)
class ReviewConditionAdmin(ReadOnlyAdmin):
    list_display = ["review", "text", "status", "closed_at"]


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = ["agent", "version", "environment", "approved_at", "deployed_at"]


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["agent", "title", "severity", "status", "detected_at", "resolved_at"]
    list_filter = ["severity", "status"]


@admin.register(Waiver)
class WaiverAdmin(ReadOnlyAdmin):
    list_display = ["agent", "control_code", "expires_at", "revoked_at", "granted_by"]
