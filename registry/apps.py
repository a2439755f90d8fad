from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Agent registry"

    def ready(self):
        from registry import auth_audit, checks  # noqa: F401  (checks registers the system checks)
        from registry.roles import sync_roles_after_migrate

        # Role groups and their global permissions are data kept in step with
        # ROLE_PERMISSIONS after every migrate (upper layers extend that map).
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="registry.sync_roles")
        # Sign-in, failed sign-in and sign-out reach the audit trail (why signals: see auth_audit).
        auth_audit.connect()
