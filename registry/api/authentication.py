"""Personal API tokens sent as ``Authorization: Bearer <token>``."""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from registry.models import ApiToken
from registry.services import hash_token

# Touch last_used_at at most this often per token, so reads do not turn into writes.
LAST_USED_RESOLUTION_SECONDS = 60


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        raw = parts[1]
        # Tokens of other kinds (telemetry ingest tokens) are not personal tokens;
        # their own endpoints authenticate them.
        if not raw.startswith(settings.API_TOKEN_PREFIX):
            return None
        now = timezone.now()
        token = ApiToken.objects.active(now).select_related("user").filter(digest=hash_token(raw)).first()
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("This API token is unknown, expired or revoked.")
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema how personal tokens are sent."""

    target_class = "registry.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token from your profile page (agr_...).",
        }
