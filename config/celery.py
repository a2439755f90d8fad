"""The Celery application. Settings come from Django's settings under the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("agent_registry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _require_broker(sender, **kwargs):
    # Celery would otherwise fall back to amqp://localhost without a word.
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        raise RuntimeError("CELERY_BROKER_URL is not set; see the README's table of environment variables.")
