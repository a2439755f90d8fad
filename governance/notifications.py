"""Telling people about findings: the owner by e-mail, the board by a daily digest, and webhooks.

Detection (``governance.checks``) only writes rows. This module sends, and
stamps what it sent before the transaction commits, so a finding's owner is
told once, a day's digest goes once, and each webhook event is queued once
(a unique delivery row) and retried with bounded exponential backoff and
jitter until it is delivered or given up, every attempt logged on the row.
"""

import hashlib
import hmac
import json
import logging
import random
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from governance.choices import DeliveryStatus, FindingEventKind
from governance.models import DigestLog, Finding, FindingEvent, WebhookDelivery, WebhookEndpoint
from registry.roles import Role

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10


def finding_url(finding: Finding) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("governance:finding-detail", args=[finding.pk])


def finding_payload(finding: Finding, event: str, now: datetime) -> dict:
    return {
        "event": event,
        "sent_for": now.isoformat(),
        "finding": {
            "id": finding.pk,
            "kind": finding.kind,
            "severity": finding.severity,
            "summary": finding.summary,
            "agent": finding.agent.key if finding.agent_id else None,
            "identity": finding.identity or None,
            "opened_at": finding.opened_at.isoformat(),
            "resolved_at": finding.resolved_at.isoformat() if finding.resolved_at else None,
            "details": finding.details,
            "url": finding_url(finding),
        },
    }


def queue_webhooks(findings, event: str, now: datetime) -> int:
    """Queue one delivery per (active endpoint, finding, event); called inside the check's transaction.
    The deliveries are sent after commit."""
    endpoints = list(WebhookEndpoint.objects.active())
    if not endpoints or not findings:
        return 0
    rows = [
        WebhookDelivery(
            endpoint=endpoint,
            finding=finding,
            event=event,
            payload=finding_payload(finding, event, now),
            created_at=now,
            next_attempt_at=now,
        )
        for finding in findings
        for endpoint in endpoints
        if endpoint.wants(finding.kind)
    ]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)

    def send_after_commit():
        from governance import tasks

        tasks.deliver_due_webhooks.delay()

    transaction.on_commit(send_after_commit)
    return len(rows)


def stop_payload(stop, event: str, now: datetime) -> dict:
    """The body of ``agent.stopped`` / ``agent.stop_lifted``: what is stopped, by whom and why."""
    agent = stop.agent if stop.scope == "agent" else None
    return {
        "event": event,
        "sent_for": now.isoformat(),
        "stop": {
            "id": stop.pk,
            "scope": stop.scope,
            "target": stop.target_key,
            "agent": agent.key if agent else None,
            "reason": stop.reason,
            "started_at": stop.started_at.isoformat(),
            "started_by": str(stop.started_by) if stop.started_by_id else None,
            "lifted_at": stop.lifted_at.isoformat() if stop.lifted_at else None,
            "lift_reason": stop.lift_reason or None,
            "url": settings.SITE_URL.rstrip("/")
            + (reverse("registry:agent-detail", args=[agent.key]) if agent else reverse("registry:stop-list")),
        },
    }


def on_stop(stop, event: str, actor) -> None:
    """Registered in registry.hooks.stop_listeners: queue ``agent.stopped`` (or ``agent.stop_lifted``)
    for every active endpoint inside the stop's transaction, and send at once after commit."""
    name = "agent.stopped" if event == "started" else "agent.stop_lifted"
    endpoints = [endpoint for endpoint in WebhookEndpoint.objects.active() if endpoint.wants(name)]
    if not endpoints:
        return
    now = timezone.now()
    payload = stop_payload(stop, name, now)
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint, stop=stop, event=name, payload=payload, created_at=now, next_attempt_at=now
            )
            for endpoint in endpoints
        ],
        ignore_conflicts=True,
    )

    def send_after_commit():
        from governance import tasks

        tasks.deliver_due_webhooks.delay()

    transaction.on_commit(send_after_commit)


# --- Owner e-mail -------------------------------------------------------------------------------


def notify_owners(*, now: datetime | None = None, limit: int = 500) -> int:
    """E-mail each owner about findings opened on their agents that nobody was told about yet.

    Each finding is claimed with a conditional update (``notified_at`` still empty) before its
    e-mail goes, inside one transaction per finding: of two workers, only one sends."""
    now = now or timezone.now()
    sent = 0
    candidates = list(Finding.objects.unnotified().select_related("agent__owner").order_by("opened_at", "id")[:limit])
    for finding in candidates:
        with transaction.atomic():
            claimed = Finding.objects.filter(pk=finding.pk, notified_at__isnull=True).update(notified_at=now)
            if not claimed:
                continue
            owner = finding.agent.owner
            recipients = [owner.email] if owner.is_active and owner.email else []
            if recipients:
                send_mail(
                    subject=f"[Agent Registry] {finding.get_kind_display()}: {finding.agent.name}",
                    message=(
                        f"A check found a problem with {finding.agent.name} ({finding.agent.key}), "
                        f"which you own.\n\n{finding.summary}\n\nSee and answer it: {finding_url(finding)}\n"
                    ),
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    recipient_list=recipients,
                )
            FindingEvent.objects.create(
                finding=finding,
                kind=FindingEventKind.NOTIFIED,
                at=now,
                note=f"E-mailed {owner.email}" if recipients else "Owner has no active e-mail address; not sent.",
            )
            sent += 1
    return sent


# --- Board digest ---------------------------------------------------------------------------------


def send_board_digest(*, now: datetime | None = None) -> int:
    """Once a day: the open findings, and those opened in the last day, to every board member.
    The day's DigestLog row is claimed first, so a second run the same day sends nothing."""
    from registry.models import User

    now = now or timezone.now()
    day = now.date()
    recipients = list(
        User.objects.filter(groups__name=Role.BOARD, is_active=True).exclude(email="").values_list("email", flat=True)
    )
    open_findings = list(Finding.objects.open().select_related("agent").order_by("-severity", "kind"))
    new = [f for f in open_findings if f.opened_at >= now - timedelta(days=1)]
    try:
        with transaction.atomic():
            DigestLog.objects.create(day=day, sent_at=now, recipients=len(recipients), findings=len(open_findings))
            if recipients and open_findings:
                lines = [
                    f"- [{f.severity}] {f.get_kind_display()}: {f.summary} {finding_url(f)}" for f in open_findings
                ]
                send_mail(
                    subject=f"[Agent Registry] {len(open_findings)} open findings, {len(new)} new ({day:%d %b %Y})",
                    message="Open findings across the portfolio:\n\n" + "\n".join(lines[:200]) + "\n",
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    recipient_list=recipients,
                )
    except IntegrityError:
        return 0  # today's digest went already
    return len(recipients) if open_findings else 0


# --- Webhooks -------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempt: int, *, base: float | None = None, cap: float | None = None) -> float:
    """Seconds before the next attempt: exponential, bounded, with full jitter (so retries of many
    deliveries do not arrive at a recovering receiver all at once)."""
    base = settings.WEBHOOK_BACKOFF_BASE_SECONDS if base is None else base
    cap = settings.WEBHOOK_BACKOFF_CAP_SECONDS if cap is None else cap
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)


def attempt_delivery(delivery_id: int, *, now: datetime | None = None) -> str:
    """Try one pending delivery once. Claims it by moving ``next_attempt_at`` forward (conditional
    update), so two workers never send the same attempt; records the outcome on the row."""
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return "skipped"
    lease = now + timedelta(seconds=WEBHOOK_TIMEOUT_SECONDS * 3)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(next_attempt_at=lease, attempts=delivery.attempts + 1)
    if not claimed:
        return "skipped"
    attempt = delivery.attempts + 1
    body = json.dumps(delivery.payload, sort_keys=True).encode()
    request = urllib.request.Request(  # noqa: S310 (an administrator-configured http(s) URL)
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "agent-registry-webhooks/1",
            "X-Signature-256": sign(delivery.endpoint.secret, body),
            "X-Delivery-Id": str(delivery.pk),
            "X-Event": delivery.event,
        },
    )
    code, error = None, ""
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
            code = response.status
    except urllib.error.HTTPError as exc:
        code, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = str(getattr(exc, "reason", exc))[:300]
    finished = timezone.now()
    log = [*delivery.attempt_log, {"attempt": attempt, "at": finished.isoformat(), "status": code, "error": error}]
    if code is not None and 200 <= code < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.DELIVERED,
            delivered_at=finished,
            last_status_code=code,
            last_error="",
            attempt_log=log[-20:],
            next_attempt_at=None,
        )
        logger.info("webhook %s delivered to %s (attempt %s)", delivery.pk, delivery.endpoint, attempt)
        return "delivered"
    if attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED,
            last_status_code=code,
            last_error=error,
            attempt_log=log[-20:],
            next_attempt_at=None,
        )
        logger.warning("webhook %s to %s gave up after %s attempts: %s", delivery.pk, delivery.endpoint, attempt, error)
        return "failed"
    delay = backoff(attempt)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        last_status_code=code,
        last_error=error,
        attempt_log=log[-20:],
        next_attempt_at=finished + timedelta(seconds=delay),
    )
    logger.warning(
        "webhook %s to %s failed (attempt %s): %s; retry in %.1fs",
        delivery.pk,
        delivery.endpoint,
        attempt,
        error,
        delay,
    )
    return "retry"


def deliver_due(*, now: datetime | None = None, limit: int = 200) -> dict:
    """Attempt every pending delivery that is due (read through the partial index webhook_due_idx)."""
    now = now or timezone.now()
    outcomes: dict[str, int] = {}
    for delivery_id in (
        WebhookDelivery.objects.due(now).order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit]
    ):
        outcome = attempt_delivery(delivery_id, now=now)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


# --- Serious-incident report clocks (EU AI Act Art. 73) -----------------------------------------------


def notify_report_clocks(*, now: datetime | None = None) -> int:
    """E-mail the board once per serious incident and stage when its report clock passes 50%, 90% and
    the deadline. The stage's ``ReportClockAlert`` row is claimed (unique) before the e-mail goes, so
    a second run, or a second worker, sends nothing again. Returns the alerts sent."""
    from governance import eu_ai_act
    from governance.models import Incident, ReportClockAlert, RiskPolicy
    from registry.models import User

    now = now or timezone.now()
    policy = RiskPolicy.objects.current()
    recipients = list(
        User.objects.filter(groups__name=Role.BOARD, is_active=True).exclude(email="").values_list("email", flat=True)
    )
    sent = 0
    incidents = Incident.objects.filter(aware_at__isnull=False, authority_reports__isnull=True).select_related("agent")
    # Alerts already sent are skipped without a round trip; the unique row still guards against a race.
    done = set(
        ReportClockAlert.objects.filter(incident__in=incidents.values("pk")).values_list(
            "incident_id", "stage", "deadline"
        )
    )
    for incident in incidents.order_by("aware_at", "id"):
        clock = eu_ai_act.report_clock(incident, policy, now, reports=[])
        if clock.stage not in eu_ai_act.ALERT_STAGES or (incident.pk, clock.stage, clock.deadline) in done:
            continue
        try:
            with transaction.atomic():
                ReportClockAlert.objects.create(
                    incident=incident,
                    stage=clock.stage,
                    deadline=clock.deadline,
                    sent_at=now,
                    recipients=len(recipients),
                )
                if recipients:
                    url = settings.SITE_URL.rstrip("/") + reverse("governance:incident-detail", args=[incident.pk])
                    send_mail(
                        subject=(
                            f"[Agent Registry] Serious incident report, {clock.get_stage_label()}: "
                            f"{incident.agent.name}"
                        ),
                        message=(
                            f"The report of serious incident “{incident.title}” ({incident.agent.name}) to the "
                            f"market surveillance authority is due by {clock.deadline:%d %b %Y %H:%M} UTC "
                            f"({incident.get_serious_category_display()}, {clock.days} days from awareness).\n\n"
                            f"Time left: {clock.time_left_label()}.\n\nSee it and record the report: {url}\n"
                        ),
                        from_email=settings.DEFAULT_FROM_EMAIL,
                        recipient_list=recipients,
                    )
        except IntegrityError:
            continue  # this stage's alert went already
        sent += 1
    return sent
