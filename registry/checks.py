"""System checks that catch misconfiguration at start-up rather than at the first request."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

BROKER_HINT = "Set it to redis://..., amqp://... or filesystem:// (the demo uses filesystem://)."


@register(Tags.compatibility)
def check_broker_configured(app_configs, **kwargs):
    """Without a broker the background checks never run; say so on every start-up."""
    if getattr(settings, "CELERY_BROKER_URL", None):
        return []
    return [
        Warning("CELERY_BROKER_URL is not set; background checks cannot run.", hint=BROKER_HINT, id="registry.W001")
    ]


@register(Tags.security, deploy=True)
def check_broker_configured_for_deploy(app_configs, **kwargs):
    if getattr(settings, "CELERY_BROKER_URL", None):
        return []
    return [Error("CELERY_BROKER_URL must be set in production.", hint=BROKER_HINT, id="registry.E001")]
