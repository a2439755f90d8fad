from registry import roles as role_rules


def roles(request):
    """The signed-in user's roles, for showing or hiding navigation and controls."""
    user = getattr(request, "user", None)
    return {
        "is_board": role_rules.is_board(user),
        "is_leadership": role_rules.is_leadership(user),
        "is_platform_admin": role_rules.is_platform_admin(user),
    }
