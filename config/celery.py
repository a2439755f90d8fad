"""The Celery application. Settings come from Django's settings under the CELERY_ prefix."""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

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


# The request id travels with each task: the publisher puts it in the message
# headers, the worker restores it before the task runs, so the task's log lines
# and audit rows carry the id of the request that queued it.
REQUEST_ID_HEADER = "request_id"


@before_task_publish.connect
def _attach_request_id(sender=None, headers=None, **kwargs):
    from registry.audit import correlation_id_var

    request_id = correlation_id_var.get()
    if headers is not None and request_id and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = request_id


@task_prerun.connect
def _restore_request_id(task_id=None, task=None, **kwargs):
    from registry.audit import correlation_id_var

    request_id = getattr(task.request, REQUEST_ID_HEADER, None) if task is not None else None
    if request_id:
        task.request._request_id_token = correlation_id_var.set(request_id)


@task_postrun.connect
def _forget_request_id(task_id=None, task=None, **kwargs):
    from registry.audit import correlation_id_var

    token = getattr(task.request, "_request_id_token", None) if task is not None else None
    if token is not None:
        correlation_id_var.reset(token)
        task.request._request_id_token = None
