"""Permission helpers shared by the governance services."""

from django.core.exceptions import PermissionDenied

from registry import services as registry_services
from registry.models import AgentDelegate
from registry.roles import is_board, is_platform_admin


def ensure(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def maintains(user, agent) -> bool:
    """Whether the user owns the agent or was granted it as a delegate (separation of duties)."""
    if user is None:
        return False
    return agent.owner_id == user.pk or AgentDelegate.objects.filter(agent=agent, user=user).exists()


def ensure_can_maintain(actor, agent, message: str) -> None:
    """Owner-side actions: the owner, a delegate or a platform administrator."""
    ensure(actor is not None and registry_services.can_change_agent(actor, agent), message)


def ensure_independent_board_member(actor, agent, what: str) -> None:
    """Board decisions: only a board member, and never on an agent they own or help maintain."""
    ensure(actor is not None and actor.is_active and is_board(actor), f"Only a governance board member may {what}.")
    ensure(
        not maintains(actor, agent),
        f"You own or help maintain {agent.name}, so another board member must {what}.",
    )


def ensure_platform_admin(actor, message: str) -> None:
    ensure(actor is not None and actor.is_active and is_platform_admin(actor), message)
