"""The Django admin for platform administrators.

Every write here goes through ``registry.services``, so it is permission-checked
and audited exactly like the same change made on a page or through the API:

- accounts: created and edited through ``create_user``/``update_user``, roles
  through ``set_user_roles``, switched off with the "Deactivate" action
  (``deactivate_user``); accounts are never deleted, only deactivated;
- business units and tools: created and edited through their services, never
  deleted (agents and their history point at them);
- agents are read-only here: their owner, delegates and lifecycle change on
  the agent's own pages, where owner rights and the release gate apply;
- the audit trail is read-only for everyone, superusers included;
- API tokens can be looked at and revoked (``revoke_api_token``), not edited.

Django's bulk "delete selected" action is switched off site-wide.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect

from registry import services
from registry.models import (
    Agent,
    AgentVersion,
    ApiToken,
    AuditEvent,
    BusinessUnit,
    GroupRoleMapping,
    McpServer,
    ScimToken,
    Tool,
    TrustedCardKey,
    User,
)
from registry.roles import Role, is_platform_admin, role_names

admin.site.disable_action("delete_selected")
admin.site.site_header = "Agent Registry administration"
admin.site.site_title = "Agent Registry admin"


class ServiceWriteAdmin(admin.ModelAdmin):
    """Saves through services; a service's refusal is shown as a message instead of a server error."""

    def has_delete_permission(self, request, obj=None):
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, " ".join(getattr(exc, "messages", [str(exc)])), messages.ERROR)
            return HttpResponseRedirect(request.path)

    @staticmethod
    def changes(form) -> dict:
        return {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}

    @staticmethod
    def adopt(obj, saved) -> None:
        """Make the admin's unsaved instance the row the service saved (the admin redirects to it)."""
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})


# --- Accounts ------------------------------------------------------------------------


class UserAdminForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Platform administrators also get this admin site.",
    )
    password = forms.CharField(
        widget=forms.PasswordInput,
        required=False,
        help_text="Only when creating the account; leave empty for an account that signs in with a token only.",
    )

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "kind", "business_unit", "job_title"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["roles"].initial = sorted(role_names(self.instance))
            del self.fields["password"]


@admin.register(User)
class UserAdmin(ServiceWriteAdmin):
    form = UserAdminForm
    list_display = ["username", "get_full_name", "kind", "business_unit", "is_active", "role_list", "last_login"]
    list_filter = ["kind", "is_active", "groups", "business_unit"]
    search_fields = ["username", "first_name", "last_name", "email"]
    list_select_related = ["business_unit"]
    readonly_fields = ["is_active", "is_staff", "last_login", "date_joined"]
    actions = ["deactivate"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "username"] if obj else self.readonly_fields

    def get_fields(self, request, obj=None):
        fields = ["username", "password", "first_name", "last_name", "email", "kind", "business_unit", "job_title"]
        if obj:
            fields.remove("password")
        return [*fields, "roles", *self.get_readonly_fields(request, obj)]

    @admin.display(description="Roles")
    def role_list(self, obj):
        names = sorted(g.name for g in obj.groups.all() if g.name in Role.values)
        return ", ".join(Role(name).label for name in names) or "Employee"

    def save_model(self, request, obj, form, change):
        roles = form.cleaned_data.get("roles") or []
        if change:
            fields = {k: v for k, v in self.changes(form).items() if k in services.EDITABLE_USER_FIELDS}
            saved = services.update_user(obj, actor=request.user, **fields)
            if "roles" in form.changed_data:
                services.set_user_roles(saved, roles, actor=request.user)
        else:
            fields = {k: form.cleaned_data[k] for k in services.EDITABLE_USER_FIELDS}
            saved = services.create_user(
                actor=request.user,
                username=form.cleaned_data["username"],
                password=form.cleaned_data.get("password") or None,
                roles=roles,
                **fields,
            )
        saved.refresh_from_db()
        self.adopt(obj, saved)

    def save_related(self, request, form, formsets, change):
        # Roles were saved by set_user_roles; the form carries no other relations.
        pass

    @admin.action(description="Deactivate the selected accounts (their agents become orphaned)")
    def deactivate(self, request, queryset):
        done = 0
        for user in queryset.filter(is_active=True):
            services.deactivate_user(user, actor=request.user)
            done += 1
        self.message_user(request, f"{done} account(s) deactivated.")


# --- Reference data ------------------------------------------------------------------


@admin.register(BusinessUnit)
class BusinessUnitAdmin(ServiceWriteAdmin):
    list_display = ["name", "slug", "path", "parent"]
    search_fields = ["name", "slug"]
    fields = ["name", "slug", "parent", "description", "head", "path"]
    readonly_fields = ["path"]
    list_select_related = ["parent"]
    autocomplete_fields = ["head"]

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.update_business_unit(obj, actor=request.user, **self.changes(form))
        else:
            saved = services.create_business_unit(
                actor=request.user, **{k: form.cleaned_data[k] for k in ("name", "slug", "parent", "description")}
            )
            if form.cleaned_data.get("head"):
                saved = services.update_business_unit(saved, actor=request.user, head=form.cleaned_data["head"])
        self.adopt(obj, saved)


@admin.register(Tool)
class ToolAdmin(ServiceWriteAdmin):
    list_display = ["key", "name", "system", "supports_write"]
    list_filter = ["supports_write", "system"]
    search_fields = ["key", "name", "description"]
    fields = list(services.TOOL_FIELDS)

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.update_tool(obj, actor=request.user, **self.changes(form))
        else:
            saved = services.create_tool(actor=request.user, **{k: form.cleaned_data[k] for k in services.TOOL_FIELDS})
        self.adopt(obj, saved)


@admin.register(TrustedCardKey)
class TrustedCardKeyAdmin(ServiceWriteAdmin):
    """Public keys trusted to sign a provider's A2A Agent Cards. Added here; never edited (add a new one)."""

    list_display = ["provider", "kid", "added_at", "added_by", "revoked_at"]
    search_fields = ["provider", "kid"]
    fields = ["provider", "kid", "public_jwk"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else []

    def save_model(self, request, obj, form, change):
        if not change:
            saved = services.trust_card_key(
                actor=request.user,
                provider=form.cleaned_data["provider"],
                kid=form.cleaned_data["kid"],
                public_jwk=form.cleaned_data["public_jwk"],
            )
            self.adopt(obj, saved)


# --- Read-only views -----------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nobody adds, changes or deletes these here; viewing needs the model's view permission."""

    actions = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AgentVersionInline(admin.TabularInline):
    model = AgentVersion
    fields = ["label", "model_provider", "model_name", "prompt_version", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Agent)
class AgentAdmin(ReadOnlyAdmin):
    """Read-only: agents change on their own pages so owner rights, the lifecycle and the audit apply."""

    list_display = ["name", "key", "business_unit", "owner", "lifecycle", "risk_tier", "pattern"]
    list_filter = ["lifecycle", "risk_tier", "pattern", "external_facing"]
    search_fields = ["key", "name", "owner__username"]
    list_select_related = ["business_unit", "owner"]
    inlines = [AgentVersionInline]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail: append-only, so read-only here for everyone, superusers included."""

    list_display = ["seq", "occurred_at", "event_type", "actor_repr", "target_repr"]
    list_filter = ["event_type", "target_type"]
    search_fields = ["target_repr", "actor_repr", "event_type", "correlation_id"]
    ordering = ["-seq"]
    show_full_result_count = False


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    list_select_related = ["user"]
    exclude = ["digest"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        # Needed for the revoke action to be offered; the form itself has no editable field.
        return obj is None and request.user.has_perm("registry.change_apitoken")

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.revoke_api_token(token, actor=request.user)
        self.message_user(request, "Tokens revoked.")


# --- Directory sync (SCIM) --------------------------------------------------------------


class PlatformAdminOnly:
    """Directory settings are the platform administrators' alone (no model permission to hand out)."""

    def has_module_permission(self, request):
        return is_platform_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def has_add_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(GroupRoleMapping)
class GroupRoleMappingAdmin(PlatformAdminOnly, admin.ModelAdmin):
    """The table administrators edit: directory group name → role. Added and removed through services,
    so members' roles follow at once and each change is audited."""

    list_display = ["group_name", "role", "created_at"]
    search_fields = ["group_name"]
    actions = ["unmap"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.base_fields["role"] = forms.ChoiceField(choices=Role.choices)
        return form

    def has_delete_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def save_model(self, request, obj, form, change):
        saved = services.map_group_to_role(
            actor=request.user, group_name=form.cleaned_data["group_name"], role=form.cleaned_data["role"]
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.unmap_group_role(obj, actor=request.user)

    @admin.action(description="Remove the selected mappings")
    def unmap(self, request, queryset):
        for mapping in queryset:
            services.unmap_group_role(mapping, actor=request.user)
        self.message_user(request, "Mappings removed; members' roles follow.")


@admin.register(ScimToken)
class ScimTokenAdmin(PlatformAdminOnly, admin.ModelAdmin):
    """SCIM bearer tokens: created here (shown once), revoked with the action, never edited."""

    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["name"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return obj is None and is_platform_admin(request.user)

    def save_model(self, request, obj, form, change):
        token, raw = services.create_scim_token(actor=request.user, name=form.cleaned_data["name"])
        obj.pk = token.pk
        self.message_user(request, f"Give this token to the identity provider now; it is not shown again: {raw}")

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.revoke_scim_token(token, actor=request.user)
        self.message_user(request, "Tokens revoked.")


@admin.register(McpServer)
class McpServerAdmin(ReadOnlyAdmin):
    """Read-only: servers are registered, scanned and approved on their own pages, through the services."""

    list_display = ["key", "name", "host", "owner", "business_unit", "scan_status", "approved_at"]
    list_filter = ["scan_status", "transport"]
    search_fields = ["key", "name", "host"]
    list_select_related = ["owner", "business_unit"]
