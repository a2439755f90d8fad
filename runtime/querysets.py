"""Reads of the runtime tables; ``for_user`` is where permissions narrow them."""

from django.db import models

from registry.models import Agent
from registry.roles import is_board, is_platform_admin


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


class GatewayCredentialQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True, source__active=True)

    def for_user(self, user, action: str = "view"):
        """Administrators manage credentials; the board may read them; nobody else sees them."""
        if not _active(user):
            return self.none()
        if is_platform_admin(user) or (action == "view" and is_board(user)):
            return self.all()
        return self.none()


class _AgentScoped(models.QuerySet):
    def for_user(self, user, action: str = "view"):
        """The decision log of the agents the user may see (unknown subjects: board and admins)."""
        if not _active(user):
            return self.none()
        if is_platform_admin(user) or is_board(user):
            return self.all()
        return self.filter(agent__in=Agent.objects.for_user(user, "view").values("pk"))


class DenialRecordQuerySet(_AgentScoped):
    pass


class AllowCountQuerySet(_AgentScoped):
    pass
