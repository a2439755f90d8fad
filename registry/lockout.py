"""Repeated failed sign-ins lock the account name (and, at a higher count, the client address) for a while.

Counts live in Django's cache (Redis in production through CACHE_URL, so every
web worker shares them). ``LockoutBackend`` sits first in
AUTHENTICATION_BACKENDS and refuses to try the password while locked, so the
login page, the admin's login page and any other ``authenticate()`` caller are
covered alike; ``force_login`` (tests) and SSO callbacks carry no password and
pass through untouched. Counting happens in the ``user_login_failed``
receiver in registry/auth_audit.py; a successful sign-in clears the name's count.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

KEY_PREFIX = "signin-failures"


def client_ip(request) -> str:
    if request is None:
        return ""
    return request.META.get("REMOTE_ADDR", "") or ""


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}:{kind}:{digest}"


def _keys(username: str, ip: str) -> list[tuple[str, int]]:
    keys = []
    if username:
        keys.append((_key("user", username), settings.LOGIN_FAILURE_LIMIT))
    if ip:
        keys.append((_key("ip", ip), settings.LOGIN_IP_FAILURE_LIMIT))
    return keys


def is_locked(username: str, ip: str = "") -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _keys(username, ip))


def register_failure(username: str, ip: str = "") -> None:
    """Count one failed attempt; the window starts at the first failure and lasts LOGIN_LOCKOUT_SECONDS."""
    for key, _limit in _keys(username, ip):
        if not cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


def clear(username: str) -> None:
    cache.delete(_key("user", username))


class LockoutBackend:
    """Authentication backend that only refuses: while a name or address is locked, no password is checked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return
        if is_locked(username, client_ip(request)):
            # PermissionDenied stops authenticate() at once and fires user_login_failed.
            raise PermissionDenied("Too many failed sign-ins.")
        return

    # No get_user(): Django then never picks this backend for a session
    # (the test client's force_login takes the first backend that has one).
