"""Board actions on findings, and the administrators' "run the checks now"."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance.choices import FindingEventKind, FindingKind
from governance.models import Finding, FindingEvent, WebhookEndpoint
from governance.services._common import ensure, ensure_platform_admin
from registry import audit
from registry.roles import is_board

MAX_WAIVER = timedelta(days=366)


def _locked(finding: Finding) -> Finding:
    return Finding.objects.select_for_update(of=("self",)).select_related("agent").get(pk=finding.pk)


def acknowledge_finding(finding: Finding, *, actor, note: str = "") -> Finding:
    """A board member says the finding is seen and being handled. It stays open until its condition clears."""
    ensure(
        actor is not None and actor.is_active and is_board(actor), "Only governance board members acknowledge findings."
    )
    with transaction.atomic():
        current = _locked(finding)
        if current.resolved_at is not None:
            raise ValidationError({"finding": "This finding is resolved already."})
        now = timezone.now()
        current.acknowledged_at, current.acknowledged_by = now, actor
        current.save(update_fields=["acknowledged_at", "acknowledged_by"])
        FindingEvent.objects.create(
            finding=current, kind=FindingEventKind.ACKNOWLEDGED, at=now, actor=actor, note=note[:2000]
        )
        audit.record(
            "finding.acknowledged",
            actor=actor,
            target=current,
            agent=current.agent,
            after={"kind": current.kind, "note": note},
        )
    return current


def waive_finding(finding: Finding, *, actor, reason: str, until: datetime) -> Finding:
    """A board member accepts the finding for a time, with a written justification."""
    ensure(actor is not None and actor.is_active and is_board(actor), "Only governance board members waive findings.")
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = "Write down why this may stay as it is; the justification is kept."
    now = timezone.now()
    if until is None or until <= now:
        errors["until"] = "The waiver must end in the future."
    elif until > now + MAX_WAIVER:
        errors["until"] = "A waiver lasts at most a year; look at it again by then."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = _locked(finding)
        if current.resolved_at is not None:
            raise ValidationError({"finding": "This finding is resolved already."})
        before = {"waived_until": current.waived_until, "waiver_reason": current.waiver_reason}
        current.waived_at, current.waived_by, current.waiver_reason, current.waived_until = now, actor, reason, until
        current.full_clean()
        current.save(update_fields=["waived_at", "waived_by", "waiver_reason", "waived_until"])
        FindingEvent.objects.create(
            finding=current,
            kind=FindingEventKind.WAIVED,
            at=now,
            actor=actor,
            note=reason,
            data={"until": until.isoformat()},
        )
        audit.record(
            "finding.waived",
            actor=actor,
            target=current,
            agent=current.agent,
            before=before,
            after={"kind": current.kind, "waived_until": until, "waiver_reason": reason},
        )
    return current


def request_checks(*, actor, kind: str | None = None) -> None:
    """Queue the checks (all, or one kind) to run now; the worker records each run."""
    ensure_platform_admin(actor, "Only platform administrators start the checks by hand.")
    if kind is not None and kind not in FindingKind.values:
        raise ValidationError({"kind": f"Unknown check {kind!r}."})
    from governance import tasks

    with transaction.atomic():
        audit.record("checks.requested", actor=actor, target=actor, after={"check": kind or "all"})
        if kind:
            transaction.on_commit(lambda: tasks.run_check.delay(kind, triggered_by_id=actor.pk))
        else:
            transaction.on_commit(lambda: tasks.run_all_checks.delay(triggered_by_id=actor.pk))


WEBHOOK_FIELDS = ("name", "url", "active", "kinds")


def create_webhook(*, actor, name: str, url: str, secret: str, kinds=(), active: bool = True) -> WebhookEndpoint:
    ensure_platform_admin(actor, "Only platform administrators configure webhooks.")
    unknown = set(kinds) - set(FindingKind.values)
    if unknown:
        raise ValidationError({"kinds": f"Unknown finding kinds: {', '.join(sorted(unknown))}."})
    if len(secret or "") < 16:
        raise ValidationError({"secret": "Use a secret of at least 16 characters."})
    with transaction.atomic():
        endpoint = WebhookEndpoint(
            name=name, url=url, secret=secret, kinds=list(kinds), active=active, created_by=actor
        )
        endpoint.full_clean()
        endpoint.save()
        audit.record("webhook.created", actor=actor, target=endpoint, after=audit.snapshot(endpoint, WEBHOOK_FIELDS))
    return endpoint
