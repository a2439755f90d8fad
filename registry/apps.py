from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Agent registry"

    def ready(self):
        from registry import checks  # noqa: F401  (registers the system checks)
        from registry.roles import sync_roles_after_migrate

        # Role groups and their global permissions are data kept in step with
        # ROLE_PERMISSIONS after every migrate (upper layers extend that map).
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="registry.sync_roles")
