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


# Boards read the trail as evidence of the last half year at least.
MIN_AUDIT_RETENTION_DAYS = 183


@register(Tags.compatibility)
def check_audit_retention(app_configs, **kwargs):
    days = getattr(settings, "AUDIT_RETENTION_DAYS", MIN_AUDIT_RETENTION_DAYS)
    if days >= MIN_AUDIT_RETENTION_DAYS:
        return []
    return [
        Error(
            f"AUDIT_RETENTION_DAYS is {days}; the audit trail must be kept at least {MIN_AUDIT_RETENTION_DAYS} days.",
            hint="Raise AUDIT_RETENTION_DAYS (the default is 400).",
            id="registry.E002",
        )
    ]


@register(Tags.security, deploy=True)
def check_audit_checkpoint_key(app_configs, **kwargs):
    key = getattr(settings, "AUDIT_CHECKPOINT_KEY", "") or ""
    if len(key) >= 32 and key != getattr(settings, "SECRET_KEY", None):
        return []
    return [
        Warning(
            "AUDIT_CHECKPOINT_KEY should be a secret of at least 32 characters, different from SECRET_KEY.",
            hint="Without it export_audit_checkpoint cannot sign the chain head.",
            id="registry.W002",
        )
    ]
