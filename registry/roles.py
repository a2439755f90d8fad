"""Roles are Django groups carrying global (model-level) permissions.

Every signed-in person is an employee who may register agents and read the
catalog; the groups below add to that. Object-level rights (owner, delegate)
are guardian permissions on single agents, granted only by services.
"""

from django.db import models


class Role(models.TextChoices):
    BOARD = "governance_board", "Governance board"
    LEADERSHIP = "leadership_viewer", "Leadership viewer"
    PLATFORM_ADMIN = "platform_admin", "Platform administrator"


# Group name -> global permissions ("app_label.codename"). Upper layers add
# their own models' permissions to these through ``ROLE_PERMISSIONS.extend``
# in their AppConfig.ready(), and ``sync_roles()`` (run after every migrate)
# writes them to the database.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.BOARD: [
        "registry.view_agent",
        "registry.view_agentversion",
        "registry.view_auditevent",
        "registry.view_businessunit",
        "registry.view_tool",
        "registry.view_mcpserver",
        "registry.view_user",
    ],
    Role.LEADERSHIP: [
        "registry.view_agent",
        "registry.view_agentversion",
        "registry.view_businessunit",
        "registry.view_tool",
        "registry.view_mcpserver",
        "registry.view_user",
    ],
    Role.PLATFORM_ADMIN: [
        "registry.view_agent",
        "registry.add_agent",
        "registry.change_agent",
        "registry.manage_agent",
        "registry.view_agentversion",
        "registry.add_agentversion",
        "registry.change_agentversion",
        "registry.view_auditevent",
        "registry.view_businessunit",
        "registry.add_businessunit",
        "registry.change_businessunit",
        "registry.view_tool",
        "registry.add_tool",
        "registry.change_tool",
        "registry.view_mcpserver",
        "registry.add_mcpserver",
        "registry.change_mcpserver",
        "registry.view_user",
        "registry.add_user",
        "registry.change_user",
        "registry.view_apitoken",
        "registry.change_apitoken",
        "registry.view_trustedcardkey",
        "registry.add_trustedcardkey",
        "registry.change_trustedcardkey",
    ],
}


def role_names(user) -> frozenset[str]:
    """The role groups a user belongs to, read once per request and cached on the user object."""
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        user._role_names = cached
    return cached


def has_role(user, role: str) -> bool:
    if user is not None and user.is_authenticated and user.is_superuser and role == Role.PLATFORM_ADMIN:
        return True
    return role in role_names(user)


def is_board(user) -> bool:
    return has_role(user, Role.BOARD)


def is_leadership(user) -> bool:
    return has_role(user, Role.LEADERSHIP)


def is_platform_admin(user) -> bool:
    return has_role(user, Role.PLATFORM_ADMIN)


def sync_roles(stdout=None) -> None:
    """Create the role groups and give each exactly the global permissions ROLE_PERMISSIONS lists."""
    from django.contrib.auth.models import Group, Permission

    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is None:
                if stdout:
                    stdout.write(f"permission {dotted} does not exist yet; skipped")
                continue
            wanted.append(perm)
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, **kwargs) -> None:
    if sender.name == "portfolio" or sender.label == "portfolio":
        # The top layer migrates last, so every app's permissions exist by now.
        sync_roles()
