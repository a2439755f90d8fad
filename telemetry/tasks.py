"""Telemetry's periodic work: thin wrappers over services, taking primitives, returning counts."""

from celery import shared_task

from telemetry import services, traces


@shared_task(name="telemetry.purge_old_events")
def purge_old_events() -> dict:
    return {"deleted": services.purge_old_events()}


@shared_task(name="telemetry.refresh_monitoring_deadlines")
def refresh_monitoring_deadlines() -> dict:
    return {"changed": services.refresh_monitoring_deadlines()}


@shared_task(name="telemetry.close_trace_window")
def close_trace_window() -> dict:
    return traces.close_trace_window().as_dict()
