"""Governance's background work: thin tasks over services, taking primitives, returning small dicts.

The database is the source of truth: every task is safe to run twice (checks
reconcile, notifications are claimed before they are sent), so a redelivered
message after a worker dies does no harm.
"""

from celery import shared_task

from governance import checks, notifications


@shared_task(name="governance.run_check")
def run_check(kind: str, triggered_by_id: int | None = None) -> dict:
    return checks.run_check(kind, triggered_by_id=triggered_by_id).as_dict()


@shared_task(
    name="governance.run_all_checks",
    autoretry_for=(checks.SweepInterrupted,),
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=6,
)
def run_all_checks(triggered_by_id: int | None = None) -> dict:
    # A sweep that lost the database part-way is retried (5 s, 10 s, ... up to 2 min) rather than
    # leaving its remaining checks to the next scheduled sweep.
    results = checks.run_all_checks(triggered_by_id=triggered_by_id)
    notify_owners.delay()
    notify_report_clocks.delay()
    return {r.kind: {"found": r.found, "resolved": r.resolved} for r in results}


@shared_task(name="governance.notify_owners")
def notify_owners() -> dict:
    return {"notified": notifications.notify_owners()}


@shared_task(name="governance.send_board_digest")
def send_board_digest() -> dict:
    return {"recipients": notifications.send_board_digest()}


@shared_task(name="governance.deliver_due_webhooks")
def deliver_due_webhooks() -> dict:
    return notifications.deliver_due()


@shared_task(name="governance.send_attestation_reminders")
def send_attestation_reminders() -> dict:
    from governance.services import continuity

    return {"sent": continuity.send_campaign_reminders()}


@shared_task(name="governance.enforce_attestations")
def enforce_attestations() -> dict:
    from governance.services import continuity

    return {"enforced": continuity.enforce_overdue_attestations()}


@shared_task(name="governance.notify_report_clocks")
def notify_report_clocks() -> dict:
    return {"alerts": notifications.notify_report_clocks()}
