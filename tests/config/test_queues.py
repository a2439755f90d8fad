"""Every task is routed to its queue on purpose, and a worker started without -Q serves every queue."""

import pytest
from django.conf import settings

from config.celery import app

EXPECTED = {
    "telemetry.close_trace_window": "telemetry",
    "telemetry.refresh_monitoring_deadlines": "telemetry",
    "telemetry.purge_old_events": "telemetry",
    "telemetry.prepare_event_partitions": "telemetry",
    "governance.run_all_checks": "checks",
    "governance.run_check": "checks",
    "governance.enforce_attestations": "checks",
    "governance.notify_owners": "notifications",
    "governance.send_board_digest": "notifications",
    "governance.deliver_due_webhooks": "notifications",
    "governance.send_attestation_reminders": "notifications",
    "governance.notify_report_clocks": "notifications",
    "portfolio.take_snapshot": "exports",
    "registry.scan_mcp_servers": "celery",
}
PROJECT_PACKAGES = {"config", "registry", "telemetry", "governance", "runtime", "portfolio"}


def _project_tasks() -> set[str]:
    app.loader.import_default_modules()  # what a worker imports at start: every app's tasks module
    return {
        name
        for name, task in app.tasks.items()
        if getattr(task, "__module__", "").split(".")[0] in PROJECT_PACKAGES and not name.startswith("celery.")
    }


def _queue_of(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def test_every_task_of_the_project_has_an_explicit_route():
    # given every task a worker registers
    tasks = _project_tasks()
    # then each has its own entry in CELERY_TASK_ROUTES (none falls to the default by omission),
    # and no route names a task that no longer exists
    assert tasks, "no task found: the apps' tasks modules were not imported"
    assert sorted(tasks - set(settings.CELERY_TASK_ROUTES)) == []
    assert sorted(set(settings.CELERY_TASK_ROUTES) - tasks) == []


@pytest.mark.parametrize(("task", "queue"), sorted(EXPECTED.items()))
def test_each_task_goes_to_its_queue(task, queue):
    assert _queue_of(task) == queue


def test_the_expected_table_covers_every_task():
    # a new task must be placed deliberately here too, next to the reason for its queue
    assert set(EXPECTED) == _project_tasks()


def test_a_slow_webhook_and_the_sweep_never_share_a_queue():
    assert _queue_of("governance.deliver_due_webhooks") != _queue_of("governance.run_all_checks")
    assert _queue_of("governance.notify_owners") != _queue_of("governance.run_check")


def test_every_beat_entry_goes_to_a_declared_queue():
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert _queue_of(entry["task"]) in settings.TASK_QUEUES, entry["task"]


def test_a_worker_without_q_consumes_every_queue():
    # celery worker without -Q consumes app.amqp.queues: all five, so the plain README command keeps
    # running the checks after routing moved them off the default queue
    assert set(app.amqp.queues) == {"celery", "telemetry", "checks", "notifications", "exports"}
    assert set(settings.TASK_QUEUES) == set(app.amqp.queues)


def test_each_queue_has_its_own_routing_key_so_a_message_reaches_one_queue_only():
    queues = app.amqp.queues
    keys = [(queues[name].exchange.name, queues[name].routing_key) for name in settings.TASK_QUEUES]
    assert len(set(keys)) == len(keys)
    # the default queue keeps Celery's own exchange and key: messages queued before routing still run
    assert keys[settings.TASK_QUEUES.index("celery")] == ("celery", "celery")
