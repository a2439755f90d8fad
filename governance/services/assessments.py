"""Risk assessments: submitted by the owner side, confirmed (or returned) by the board."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.choices import AssessmentStatus, EUAIActCategory, GovernanceEvent
from governance.models import Evidence, RiskAssessment, RiskPolicy
from governance.policy import compute_tier
from governance.services._common import ensure_can_maintain, ensure_independent_board_member
from registry import audit
from registry import services as registry_services
from registry.choices import RiskTier
from registry.exceptions import Conflict

QUESTION_FIELDS = (
    "action_impact",
    "irreversible_actions",
    "people_affected",
    "eu_ai_act_category",
    "eu_ai_act_reason",
    "notes",
)
# Agent facts the score reads; changing one makes the confirmed assessment stale.
RISK_FACTS = (
    "pattern",
    "autonomy_level",
    "external_facing",
    "data_classification",
    "handles_personal_data",
    "handles_regulated_data",
)
AUDITED = (
    "status",
    "pattern",
    "autonomy_level",
    "external_facing",
    "data_classification",
    "personal_or_regulated_data",
    *QUESTION_FIELDS,
    "score",
    "computed_tier",
    "override_tier",
    "policy",
)


def submit_assessment(agent, *, actor, **answers) -> RiskAssessment:
    """Answer the questionnaire for an agent. The tier is computed under the policy in force;
    the agent's own facts are copied in. Replaces an assessment still awaiting confirmation."""
    ensure_can_maintain(actor, agent, "Only the agent's owner or a delegate may submit its risk assessment.")
    unknown = set(answers) - set(QUESTION_FIELDS)
    if unknown:
        raise ValidationError({name: "This is not a question of the assessment." for name in sorted(unknown)})
    if not (answers.get("eu_ai_act_reason") or "").strip():
        raise ValidationError({"eu_ai_act_reason": "Say why this EU AI Act category applies."})
    now = timezone.now()
    with transaction.atomic():
        policy = RiskPolicy.objects.current()
        assessment = RiskAssessment(
            agent=agent,
            policy=policy,
            status=AssessmentStatus.SUBMITTED,
            pattern=agent.pattern,
            autonomy_level=agent.autonomy_level,
            external_facing=agent.external_facing,
            data_classification=agent.data_classification,
            personal_or_regulated_data=agent.handles_personal_data or agent.handles_regulated_data,
            submitted_by=actor,
            submitted_at=now,
            score=0,
            computed_tier=RiskTier.LOW,
            **answers,
        )
        # The assessment still awaiting confirmation (if any) is replaced by this one.
        RiskAssessment.objects.filter(agent=agent, status=AssessmentStatus.SUBMITTED).update(
            status=AssessmentStatus.SUPERSEDED
        )
        assessment.full_clean(exclude=["score", "computed_tier", "reasons"])
        tier, score, reasons = compute_tier(assessment.answers(), policy)
        assessment.score, assessment.computed_tier, assessment.reasons = score, tier, reasons
        try:
            with transaction.atomic():
                assessment.save()
        except IntegrityError as exc:
            raise Conflict("Another assessment of this agent was submitted at the same time; reload.") from exc
        audit.record(
            GovernanceEvent.ASSESSMENT_SUBMITTED,
            actor=actor,
            target=assessment,
            agent=agent,
            after={**audit.snapshot(assessment, AUDITED), "reasons": reasons},
        )
    return assessment


def _claim_pending(assessment: RiskAssessment, new_status: str, **fields) -> RiskAssessment:
    """Move a submitted assessment on, exactly once: of two board members acting at once, one wins."""
    updated = RiskAssessment.objects.filter(pk=assessment.pk, status=AssessmentStatus.SUBMITTED).update(
        status=new_status, **fields
    )
    if not updated:
        raise Conflict("This assessment was already decided by someone else; reload it.")
    return RiskAssessment.objects.select_related("agent", "policy").get(pk=assessment.pk)


def confirm_assessment(
    assessment: RiskAssessment, *, actor, override_tier: str = "", override_justification: str = ""
) -> RiskAssessment:
    """Confirm a submitted assessment (optionally overriding the tier, with a written justification).

    The previous confirmed assessment is superseded and the agent's tier becomes the confirmed one.
    """
    agent = assessment.agent
    ensure_independent_board_member(actor, agent, "confirm this risk assessment")
    if assessment.submitted_by_id == getattr(actor, "pk", None):
        raise ValidationError({"__all__": "You submitted this assessment; another board member must confirm it."})
    override_tier = override_tier or ""
    override_justification = (override_justification or "").strip()
    if override_tier and override_tier not in RiskTier.values:
        raise ValidationError({"override_tier": f"{override_tier!r} is not a risk tier."})
    if override_tier == assessment.computed_tier:
        override_tier = ""
    if override_tier and not override_justification:
        raise ValidationError({"override_justification": "Explain in writing why the computed tier is overridden."})
    if override_tier and assessment.eu_ai_act_category == EUAIActCategory.HIGH_RISK:
        from registry.choices import RISK_TIER_ORDER

        if RISK_TIER_ORDER[override_tier] < RISK_TIER_ORDER[RiskTier.HIGH]:
            raise ValidationError({"override_tier": "An EU AI Act high-risk use is at least high tier."})
    now = timezone.now()
    with transaction.atomic():
        RiskAssessment.objects.filter(agent=agent, status=AssessmentStatus.CONFIRMED).update(
            status=AssessmentStatus.SUPERSEDED
        )
        confirmed = _claim_pending(
            assessment,
            AssessmentStatus.CONFIRMED,
            confirmed_by=actor,
            confirmed_at=now,
            override_tier=override_tier,
            override_justification=override_justification if override_tier else "",
        )
        audit.record(
            GovernanceEvent.ASSESSMENT_CONFIRMED,
            actor=actor,
            target=confirmed,
            agent=agent,
            before={"status": AssessmentStatus.SUBMITTED, "tier": agent.risk_tier},
            after={
                "status": AssessmentStatus.CONFIRMED,
                "computed_tier": confirmed.computed_tier,
                "override_tier": override_tier,
                "override_justification": confirmed.override_justification,
                "tier": confirmed.tier,
                "policy_version": confirmed.policy.version,
                "eu_ai_act_category": confirmed.eu_ai_act_category,
            },
        )
        registry_services.set_agent_risk_tier(
            agent, confirmed.tier, actor=actor, reason=f"risk assessment #{confirmed.pk} confirmed"
        )
        from governance.services.reviews import ensure_periodic_review

        agent.refresh_from_db()
        ensure_periodic_review(agent, now=now)
    return confirmed


def return_assessment(assessment: RiskAssessment, *, actor, reason: str) -> RiskAssessment:
    """Send a submitted assessment back to the owner with the board's reason."""
    agent = assessment.agent
    ensure_independent_board_member(actor, agent, "return this risk assessment")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Tell the owner what to change."})
    with transaction.atomic():
        returned = _claim_pending(assessment, AssessmentStatus.RETURNED, return_reason=reason)
        audit.record(
            GovernanceEvent.ASSESSMENT_RETURNED,
            actor=actor,
            target=returned,
            agent=agent,
            before={"status": AssessmentStatus.SUBMITTED},
            after={"status": AssessmentStatus.RETURNED, "reason": reason},
        )
    return returned


def mark_assessment_stale(agent, *, actor, changed: dict, now=None) -> RiskAssessment | None:
    """A risk fact changed: the confirmed assessment no longer describes the agent. Returns it, if any."""
    now = now or timezone.now()
    facts = ", ".join(name.replace("_", " ") for name in changed)
    reason = f"changed since the assessment: {facts}"[:500]
    with transaction.atomic():
        assessment = (
            RiskAssessment.objects.select_for_update()
            .filter(agent=agent, status=AssessmentStatus.CONFIRMED, stale_at__isnull=True)
            .first()
        )
        if assessment is None:
            return None
        assessment.stale_at = now
        assessment.stale_reason = reason
        assessment.save(update_fields=["stale_at", "stale_reason"])
        audit.record(
            GovernanceEvent.ASSESSMENT_STALE,
            actor=actor,
            target=assessment,
            agent=agent,
            before={"stale_at": None},
            after={"stale_at": now, "stale_reason": reason},
        )
    return assessment


def invalidate_until_changed_evidence(agent, *, actor, changed_fields, controls, now=None) -> int:
    """End accepted "until changed" evidence whose control names one of the changed agent facts."""
    now = now or timezone.now()
    codes = [c.code for c in controls if c.validity == "until_changed" and set(c.invalidated_by) & set(changed_fields)]
    count = 0
    for evidence in Evidence.objects.select_for_update().filter(
        agent=agent, control_code__in=codes, status="accepted", invalidated_at__isnull=True
    ):
        control = next(c for c in controls if c.code == evidence.control_code)
        fields = sorted(set(control.invalidated_by) & set(changed_fields))
        evidence.invalidated_at = now
        evidence.invalidated_reason = f"changed since accepted: {', '.join(f.replace('_', ' ') for f in fields)}"
        evidence.save(update_fields=["invalidated_at", "invalidated_reason"])
        audit.record(
            GovernanceEvent.EVIDENCE_INVALIDATED,
            actor=actor,
            target=evidence,
            agent=agent,
            after={"invalidated_at": now, "reason": evidence.invalidated_reason},
        )
        count += 1
    return count
