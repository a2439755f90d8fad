"""Telemetry's periodic work: thin wrappers over services, taking primitives, returning counts."""

from celery import shared_task

from telemetry import services, traces


@shared_task(name="telemetry.purge_old_events")
def purge_old_events() -> dict:
    return services.purge_old_events().as_dict()


@shared_task(name="telemetry.prepare_event_partitions")
def prepare_event_partitions() -> dict:
    return services.prepare_event_partitions().as_dict()


@shared_task(name="telemetry.refresh_monitoring_deadlines")
def refresh_monitoring_deadlines() -> dict:
    return {"changed": services.refresh_monitoring_deadlines()}


@shared_task(name="telemetry.close_trace_window")
def close_trace_window() -> dict:
    return traces.close_trace_window().as_dict()
