"""An agent's compliance checklist: each required control with its state and the next step.

Read by the owner's workspace, the agent panel, the API requirements endpoint
and the release gate, so all of them agree on what is covered.
"""

from dataclasses import dataclass, field

from governance.choices import COVERED_STATES, ControlState, EvidenceStatus, Validity
from governance.controls import SYSTEM_CONTROLS
from governance.models import Control, Evidence, RiskAssessment, RiskPolicy, Waiver
from governance.requirements import Facts, derive_requirements

NEXT_STEPS = {
    ControlState.MISSING: "Submit evidence: {expected}",
    ControlState.SUBMITTED: "Wait for a board member to review the evidence.",
    ControlState.ACCEPTED: "Nothing to do.",
    ControlState.REJECTED: "Submit new evidence; the board said: {reason}",
    ControlState.EXPIRED: "Submit fresh evidence: the accepted evidence is no longer valid ({why}).",
    ControlState.WAIVED: "Close the gap before the waiver ends on {until}.",
    ControlState.SATISFIED: "Nothing to do: the system verifies this.",
    ControlState.FAILING: "Fix it: {why}.",
    ControlState.UNKNOWN: "Nothing to upload: this is checked once the agent reports telemetry.",
}


@dataclass
class ControlStatus:
    """One required control of one agent at one moment."""

    control: Control
    reasons: list[str]
    state: str
    evidence: Evidence | None = None
    pending: Evidence | None = None
    waiver: Waiver | None = None
    next_step: str = ""
    detail: dict = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.control.code

    @property
    def covered(self) -> bool:
        return self.state in COVERED_STATES

    def control_state_label(self) -> str:
        """The state in words, for the gate's refusal ("missing", "submitted, awaiting review", ...)."""
        label = str(ControlState(self.state).label).lower()
        if self.detail.get("why"):
            label = f"{label} ({self.detail['why']})"
        return label

    @property
    def is_gap(self) -> bool:
        """Not covered and not merely waiting for telemetry (which the lapsed-monitoring check reports)."""
        return not self.covered and self.state != ControlState.UNKNOWN


def current_assessment(agent) -> RiskAssessment | None:
    """The agent's confirmed assessment (possibly stale), or None."""
    return RiskAssessment.objects.filter(agent=agent, status="confirmed").select_related("policy").first()


def pending_assessment(agent) -> RiskAssessment | None:
    return RiskAssessment.objects.filter(agent=agent, status="submitted").first()


def requirements_for(agent, assessment=None, policy=None):
    policy = policy or RiskPolicy.objects.current()
    controls = list(Control.objects.filter(policy=policy))
    return derive_requirements(Facts.of(agent, assessment), controls)


def _expired_why(evidence: Evidence, now, version_id) -> str:
    if evidence.invalidated_at is not None and evidence.invalidated_at <= now:
        return evidence.invalidated_reason or "the facts it covered changed"
    if evidence.valid_until is not None and evidence.valid_until <= now:
        return f"valid until {evidence.valid_until:%d %b %Y}"
    return "it covers another version"


def checklist(agent, now, version=None, assessment=...) -> list[ControlStatus]:
    """Every required control of the agent with its state at ``now``.

    ``version`` is the version per-release controls are judged for (default:
    the agent's newest version). Order of precedence for one control: valid
    accepted evidence, a waiver in force, evidence awaiting review, expired,
    rejected, missing. System controls are evaluated, not uploaded.
    """
    if assessment is ...:
        assessment = current_assessment(agent)
    if version is None:
        version = agent.versions.order_by("-created_at", "-id").first()
    version_id = version.pk if version is not None else None
    requirements = requirements_for(agent, assessment)
    evidence = list(
        Evidence.objects.filter(agent=agent).exclude(status=EvidenceStatus.SUPERSEDED).order_by("-submitted_at", "-id")
    )
    waivers = [w for w in Waiver.objects.filter(agent=agent, revoked_at__isnull=True) if w.in_force(now)]
    statuses = []
    for requirement in requirements:
        control = requirement.control
        status = ControlStatus(control=control, reasons=requirement.reasons, state=ControlState.MISSING)
        if control.validity == Validity.SYSTEM:
            _evaluate_system(status, agent, now)
        else:
            _evaluate_evidence(status, control, evidence, waivers, now, version_id)
        statuses.append(status)
    return statuses


def _evaluate_system(status: ControlStatus, agent, now) -> None:
    check = SYSTEM_CONTROLS.get(status.code)
    result = check(agent, now) if check else None
    if result is True:
        status.state = ControlState.SATISFIED
    elif result is False:
        status.state = ControlState.FAILING
        why = "the owner is not an active person" if status.code == "owner" else "telemetry is overdue"
        status.detail["why"] = why
    else:
        status.state = ControlState.UNKNOWN
    status.next_step = NEXT_STEPS[status.state].format(why=status.detail.get("why", ""))


def _evaluate_evidence(status, control, evidence, waivers, now, version_id) -> None:
    per_release = control.validity == Validity.PER_RELEASE
    mine = [e for e in evidence if e.control_code == control.code and (not per_release or e.version_id == version_id)]
    accepted = next((e for e in mine if e.status == EvidenceStatus.ACCEPTED), None)
    pending = next((e for e in mine if e.status == EvidenceStatus.SUBMITTED), None)
    rejected = next((e for e in mine if e.status == EvidenceStatus.REJECTED), None)
    waiver = next((w for w in waivers if w.control_code == control.code), None)
    status.pending = pending
    status.waiver = waiver
    if accepted is not None and accepted.state(now, version_id if per_release else None) == ControlState.ACCEPTED:
        status.state, status.evidence = ControlState.ACCEPTED, accepted
    elif waiver is not None:
        status.state = ControlState.WAIVED
    elif pending is not None:
        status.state, status.evidence = ControlState.SUBMITTED, pending
    elif accepted is not None:
        status.state, status.evidence = ControlState.EXPIRED, accepted
        status.detail["why"] = _expired_why(accepted, now, version_id)
    elif rejected is not None:
        status.state, status.evidence = ControlState.REJECTED, rejected
    else:
        status.state = ControlState.MISSING
    status.next_step = NEXT_STEPS[status.state].format(
        expected=control.evidence_expected or control.name,
        reason=status.evidence.review_reason if status.evidence else "",
        why=status.detail.get("why", ""),
        until=f"{waiver.expires_at:%d %b %Y}" if waiver else "",
    )


def summary(statuses: list[ControlStatus]) -> dict:
    """Counts per state and whether every required control is covered."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status.state] = counts.get(status.state, 0) + 1
    return {
        "required": len(statuses),
        "covered": sum(1 for s in statuses if s.covered),
        "gaps": [s.code for s in statuses if s.is_gap],
        "counts": counts,
        "compliant": not any(s.is_gap for s in statuses),
    }
