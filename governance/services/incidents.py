"""The incident register and board waivers of control gaps."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance.choices import SUSPENDING_SEVERITIES, GovernanceEvent, IncidentStatus, Severity
from governance.models import Control, Incident, RiskPolicy, Waiver
from governance.services._common import ensure, ensure_independent_board_member
from registry import audit
from registry import services as registry_services
from registry.choices import Lifecycle
from registry.roles import is_board

INCIDENT_FIELDS = ("title", "severity", "what_happened", "follow_up_actions", "detected_at", "version")


def _ensure_may_record(actor, agent) -> None:
    ensure(
        actor is not None and (is_board(actor) or registry_services.can_change_agent(actor, agent)),
        "Only the agent's owner, a delegate or the governance board may record its incidents.",
    )


def report_incident(agent, *, actor, suspend: bool = False, **fields) -> Incident:
    """Record an incident. With ``suspend`` and a high or critical severity, the agent is suspended
    in the same transaction (a lifecycle transition, audited with the incident as its reason)."""
    _ensure_may_record(actor, agent)
    unknown = set(fields) - set(INCIDENT_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be set here." for name in sorted(unknown)})
    version = fields.get("version")
    if version is not None and version.agent_id != agent.pk:
        raise ValidationError({"version": "This version belongs to another agent."})
    now = timezone.now()
    fields.setdefault("detected_at", now)
    if fields["detected_at"] and fields["detected_at"] > now + timedelta(minutes=5):
        raise ValidationError({"detected_at": "An incident cannot be detected in the future."})
    with transaction.atomic():
        incident = Incident(agent=agent, reported_by=actor, reported_at=now, status=IncidentStatus.OPEN, **fields)
        incident.full_clean()
        incident.save()
        audit.record(
            GovernanceEvent.INCIDENT_REPORTED,
            actor=actor,
            target=incident,
            agent=agent,
            after=audit.snapshot(incident, INCIDENT_FIELDS),
        )
        if suspend:
            suspend_for_incident(incident, actor=actor)
    return incident


def suspend_for_incident(incident: Incident, *, actor) -> None:
    """Suspend the incident's agent: only for an open high or critical incident of a running agent."""
    agent = incident.agent
    if incident.status != IncidentStatus.OPEN or incident.severity not in SUSPENDING_SEVERITIES:
        raise ValidationError({"suspend": "Only an open high or critical incident can suspend the agent."})
    agent.refresh_from_db()
    if agent.lifecycle not in (Lifecycle.PILOT, Lifecycle.PRODUCTION):
        raise ValidationError({"suspend": f"{agent.name} is not running, so there is nothing to suspend."})
    registry_services.transition_agent(
        agent,
        Lifecycle.SUSPENDED,
        actor=actor,
        reason=f"suspended for {Severity(incident.severity).label.lower()} incident: {incident.title}",
    )


def update_incident(incident: Incident, *, actor, **changes) -> Incident:
    _ensure_may_record(actor, incident.agent)
    unknown = set(changes) - {"title", "severity", "what_happened", "follow_up_actions"}
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    with transaction.atomic():
        current = Incident.objects.select_for_update().get(pk=incident.pk)
        before = audit.snapshot(current, changes)
        for name, value in changes.items():
            setattr(current, name, value)
        current.full_clean()
        current.save()
        changed_before, changed_after = audit.diff(before, audit.snapshot(current, changes))
        if changed_after:
            audit.record(
                GovernanceEvent.INCIDENT_CHANGED,
                actor=actor,
                target=current,
                agent=current.agent,
                before=changed_before,
                after=changed_after,
            )
    return current


def resolve_incident(incident: Incident, *, actor, resolution: str, resolved_at=None) -> Incident:
    _ensure_may_record(actor, incident.agent)
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": "Say how the incident was resolved."})
    with transaction.atomic():
        current = Incident.objects.select_for_update().get(pk=incident.pk)
        if current.status == IncidentStatus.RESOLVED:
            raise ValidationError({"__all__": "This incident is already resolved."})
        current.status = IncidentStatus.RESOLVED
        current.resolved_at = resolved_at or timezone.now()
        current.resolution = resolution
        if current.resolved_at < current.detected_at:
            raise ValidationError({"resolved_at": "An incident cannot be resolved before it was detected."})
        current.full_clean()
        current.save()
        audit.record(
            GovernanceEvent.INCIDENT_RESOLVED,
            actor=actor,
            target=current,
            agent=current.agent,
            before={"status": IncidentStatus.OPEN},
            after={"status": IncidentStatus.RESOLVED, "resolved_at": current.resolved_at, "resolution": resolution},
        )
    return current


def grant_waiver(agent, control_code: str, *, actor, reason: str, expires_at) -> Waiver:
    """Accept a control gap for a limited time (at most GOVERNANCE_WAIVER_MAX_DAYS), with a reason."""
    ensure_independent_board_member(actor, agent, "waive a control")
    control = Control.objects.filter(policy=RiskPolicy.objects.current(), code=control_code).first()
    if control is None:
        raise ValidationError({"control": f"{control_code!r} is not a control of the policy in force."})
    if control.code == "owner":
        raise ValidationError({"control": "Every agent needs an active owner; this cannot be waived."})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the gap is acceptable for now."})
    now = timezone.now()
    if expires_at is None or expires_at <= now:
        raise ValidationError({"expires_at": "A waiver must end in the future."})
    longest = timedelta(days=settings.GOVERNANCE_WAIVER_MAX_DAYS)
    if expires_at - now > longest:
        raise ValidationError({"expires_at": f"A waiver lasts at most {longest.days} days."})
    with transaction.atomic():
        Waiver.objects.select_for_update().filter(
            agent=agent, control_code=control.code, revoked_at__isnull=True, expires_at__gt=now
        ).update(revoked_at=now, revoked_by=actor)
        waiver = Waiver(
            agent=agent,
            control_code=control.code,
            reason=reason,
            granted_by=actor,
            granted_at=now,
            expires_at=expires_at,
        )
        waiver.full_clean()
        waiver.save()
        audit.record(
            GovernanceEvent.WAIVER_GRANTED,
            actor=actor,
            target=waiver,
            agent=agent,
            after={"control": control.code, "reason": reason, "expires_at": expires_at},
        )
    return waiver


def revoke_waiver(waiver: Waiver, *, actor, reason: str = "") -> Waiver:
    ensure_independent_board_member(actor, waiver.agent, "revoke a waiver")
    with transaction.atomic():
        current = Waiver.objects.select_for_update().get(pk=waiver.pk)
        if current.revoked_at is not None:
            raise ValidationError({"__all__": "This waiver is already revoked."})
        current.revoked_at = timezone.now()
        current.revoked_by = actor
        current.save(update_fields=["revoked_at", "revoked_by"])
        audit.record(
            GovernanceEvent.WAIVER_REVOKED,
            actor=actor,
            target=current,
            agent=current.agent,
            before={"revoked_at": None},
            after={"revoked_at": current.revoked_at, "reason": (reason or "").strip()},
        )
    return current
