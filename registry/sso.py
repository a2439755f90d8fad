"""Single sign-on through OpenID Connect, beside local accounts.

Configured entirely from the environment (see the "Single sign-on" section of
config/settings.py). ``OIDC_ISSUER`` alone is enough: the provider's endpoints
are read from its discovery document on first use; explicit endpoint
variables override discovery. With no client id SSO is off and its pages 404.

People are matched to accounts by username (``preferred_username``, else the
e-mail address); new people get an account through
``registry.services.create_user``, profile claims are copied with
``update_user_profile`` and, when a groups claim is configured, the provider
is the authority on roles: ``OIDC_ROLE_MAP`` turns its groups into role groups
through ``set_user_roles`` (audited). A deactivated local account stays shut.
"""

import logging
from functools import cache

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.http import Http404
from mozilla_django_oidc import auth as oidc_auth
from mozilla_django_oidc import views as oidc_views

from registry import services
from registry.choices import UserKind
from registry.models import User

logger = logging.getLogger(__name__)

# Setting name -> key of the provider's discovery document.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
}
DISCOVERY_TIMEOUT_SECONDS = 10


def sso_enabled() -> bool:
    return bool(getattr(settings, "OIDC_RP_CLIENT_ID", ""))


@cache
def discover(issuer: str) -> dict:
    """The provider's discovery document (fetched once per process and issuer)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    response = requests.get(url, timeout=DISCOVERY_TIMEOUT_SECONDS)
    response.raise_for_status()
    document = response.json()
    if document.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise ImproperlyConfigured(f"The provider at {url} names itself {document.get('issuer')!r}, not {issuer!r}.")
    return document


def get_setting(attr: str, *default):
    """A mozilla-django-oidc setting; provider endpoints fall back to the issuer's discovery document."""
    value = getattr(settings, attr, None)
    if value:
        return value
    if attr in DISCOVERED and getattr(settings, "OIDC_ISSUER", ""):
        found = discover(settings.OIDC_ISSUER).get(DISCOVERED[attr])
        if found:
            return found
    if default:
        return default[0]
    raise ImproperlyConfigured(f"Setting {attr} not found")


def roles_from_claims(claims: dict) -> list[str]:
    groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    role_map = settings.OIDC_ROLE_MAP
    return sorted({role_map[g] for g in groups if g in role_map})


def username_from_claims(claims: dict) -> str:
    return (claims.get("preferred_username") or claims.get("email") or "").strip()


def profile_from_claims(claims: dict) -> dict:
    profile = {"email": claims.get("email") or ""}
    if "given_name" in claims or "family_name" in claims:
        profile["first_name"] = (claims.get("given_name") or "")[:150]
        profile["last_name"] = (claims.get("family_name") or "")[:150]
    elif claims.get("name"):
        first, _, last = claims["name"].partition(" ")
        profile["first_name"], profile["last_name"] = first[:150], last[:150]
    return profile


class SsoBackend(oidc_auth.OIDCAuthenticationBackend):
    """Signs people in from the provider's claims; creates, updates and assigns roles through services."""

    def __init__(self, *args, **kwargs):
        # Django builds every listed backend for each authenticate(); while SSO
        # is off there is nothing to read, and reading would raise.
        self.UserModel = User
        if sso_enabled():
            super().__init__(*args, **kwargs)

    @staticmethod
    def get_settings(attr, *args):
        return get_setting(attr, *args)

    def authenticate(self, request, **kwargs):
        if not sso_enabled():
            return None
        return super().authenticate(request, **kwargs)

    def verify_claims(self, claims):
        return bool(username_from_claims(claims))

    def filter_users_by_claims(self, claims):
        return User.objects.filter(username__iexact=username_from_claims(claims))

    def describe_user_by_claims(self, claims):
        return f"username {username_from_claims(claims)}"

    def get_or_create_user(self, access_token, id_token, payload):
        user = super().get_or_create_user(access_token, id_token, payload)
        if user is not None and not user.is_active:
            # A deactivated account stays shut whatever the provider says.
            logger.warning("SSO sign-in refused for deactivated account %s", user.username)
            return None
        return user

    def create_user(self, claims):
        roles = roles_from_claims(claims) if settings.OIDC_GROUPS_CLAIM else []
        return services.create_user(
            actor=None,
            username=username_from_claims(claims),
            kind=UserKind.PERSON,
            roles=roles,
            **profile_from_claims(claims),
        )

    def update_user(self, user, claims):
        if not user.is_active:
            return user
        if user.kind != UserKind.PERSON:
            raise SuspiciousOperation("Service accounts cannot sign in through SSO.")
        services.update_user_profile(user, actor=None, **profile_from_claims(claims))
        if settings.OIDC_GROUPS_CLAIM:
            services.set_user_roles(user, roles_from_claims(claims), actor=None)
        return user

    def get_user(self, user_id):
        try:
            return User.objects.get(pk=user_id)
        except User.DoesNotExist:
            return None


class SsoSignInView(oidc_views.OIDCAuthenticationRequestView):
    """Sends the browser to the provider (404 while SSO is off)."""

    def __init__(self, *args, **kwargs):
        if not sso_enabled():
            return
        super().__init__(*args, **kwargs)

    def dispatch(self, request, *args, **kwargs):
        if not sso_enabled():
            raise Http404("Single sign-on is not configured.")
        return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def get_settings(attr, *args):
        return get_setting(attr, *args)


class SsoCallbackView(oidc_views.OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back with a code (404 while SSO is off)."""

    def dispatch(self, request, *args, **kwargs):
        if not sso_enabled():
            raise Http404("Single sign-on is not configured.")
        return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def get_settings(attr, *args):
        return get_setting(attr, *args)
