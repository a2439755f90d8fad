from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Agent registry"

    def ready(self):
        from registry import auth_audit, checks, hooks, views  # noqa: F401  (checks registers the system checks)
        from registry.roles import sync_roles_after_migrate

        # Role groups and their global permissions are data kept in step with
        # ROLE_PERMISSIONS after every migrate (upper layers extend that map).
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="registry.sync_roles")
        # Sign-in, failed sign-in and sign-out reach the audit trail (why signals: see auth_audit).
        auth_audit.connect()
        from registry.choices import HANDOVER_STATUS_COLORS, HandoverStatus
        from registry.templatetags.registry_tags import EXTRA_BADGES

        EXTRA_BADGES["handover_status"] = (HandoverStatus, HANDOVER_STATUS_COLORS)
        # The agent page says when its owner left (handover pending) or moved to another unit.
        if views.owner_continuity_panel not in hooks.agent_detail_panels:
            hooks.agent_detail_panels.append(views.owner_continuity_panel)
