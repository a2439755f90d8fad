"""Serious incidents (EU AI Act Art. 73): marking an incident serious, and the reports to the authority."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.choices import AuthorityReportKind, GovernanceEvent, SeriousIncidentCategory
from governance.models import AuthorityReport, Incident, RiskPolicy
from governance.services.incidents import _ensure_may_record
from registry import audit

FUTURE_SLACK = timedelta(minutes=5)


def mark_incident_serious(incident: Incident, *, actor, category: str, aware_at) -> Incident:
    """Mark ``incident`` a serious incident of ``category`` (Art. 3(49)); its report clock runs from
    ``aware_at``, when the organisation became aware. Marking again corrects the category or the time."""
    _ensure_may_record(actor, incident.agent)
    if category not in SeriousIncidentCategory.values:
        raise ValidationError({"category": "Choose one of the serious-incident categories of Art. 3(49)."})
    now = timezone.now()
    if aware_at is None:
        raise ValidationError({"aware_at": "Say when the organisation became aware of the incident."})
    if aware_at > now + FUTURE_SLACK:
        raise ValidationError({"aware_at": "Awareness cannot be in the future."})
    with transaction.atomic():
        current = Incident.objects.select_for_update().get(pk=incident.pk)
        # Forms give minutes: awareness in the minute of detection counts as at detection.
        if aware_at < current.detected_at.replace(second=0, microsecond=0):
            raise ValidationError({"aware_at": "Awareness cannot come before the incident was detected."})
        fields = ("serious_category", "aware_at")
        before = audit.snapshot(current, fields)
        current.serious_category = category
        current.aware_at = aware_at
        if current.marked_serious_at is None:
            current.marked_serious_at = now
            current.marked_serious_by = actor
        current.full_clean()
        current.save()
        policy = RiskPolicy.objects.current()
        audit.record(
            GovernanceEvent.INCIDENT_MARKED_SERIOUS,
            actor=actor,
            target=current,
            agent=current.agent,
            before=before,
            after={
                **audit.snapshot(current, fields),
                "report_days": policy.incident_report_days.get(category),
                "policy_version": policy.version,
            },
        )
    return current


def record_authority_report(
    incident: Incident, *, actor, kind: str, sent_at, authority: str, reference: str = "", notes: str = ""
) -> AuthorityReport:
    """Record a report of a serious incident sent to the authority: the initial one (it may be
    incomplete), follow-ups, then the final one."""
    _ensure_may_record(actor, incident.agent)
    now = timezone.now()
    with transaction.atomic():
        current = Incident.objects.select_for_update().get(pk=incident.pk)
        if not current.serious_category:
            raise ValidationError({"__all__": "Mark the incident serious before recording reports to the authority."})
        existing = list(current.authority_reports.all())
        if kind not in AuthorityReportKind.values:
            raise ValidationError({"kind": "Choose initial, follow-up or final."})
        if kind != AuthorityReportKind.INITIAL and not any(r.kind == AuthorityReportKind.INITIAL for r in existing):
            raise ValidationError({"kind": "Record the initial report first."})
        if kind == AuthorityReportKind.INITIAL and existing:
            raise ValidationError({"kind": "The initial report is already sent; record a follow-up."})
        if any(r.kind == AuthorityReportKind.FINAL for r in existing):
            raise ValidationError({"kind": "The final report is already sent."})
        if sent_at is None:
            raise ValidationError({"sent_at": "Say when the report was sent."})
        if sent_at > now + FUTURE_SLACK:
            raise ValidationError({"sent_at": "A report cannot be sent in the future."})
        if existing and sent_at < max(r.sent_at for r in existing):
            raise ValidationError({"sent_at": "A report cannot be sent before the previous one."})
        report = AuthorityReport(
            incident=current,
            kind=kind,
            sent_at=sent_at,
            authority=(authority or "").strip(),
            reference=(reference or "").strip(),
            notes=(notes or "").strip(),
            recorded_by=actor,
            recorded_at=now,
        )
        report.full_clean()
        try:
            with transaction.atomic():
                report.save()
        except IntegrityError as exc:
            raise ValidationError({"kind": f"This incident already has its {kind} report."}) from exc
        audit.record(
            GovernanceEvent.INCIDENT_AUTHORITY_REPORTED,
            actor=actor,
            target=current,
            agent=current.agent,
            after={
                "kind": kind,
                "sent_at": sent_at,
                "authority": report.authority,
                "reference": report.reference,
            },
        )
    return report
