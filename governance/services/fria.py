"""The fundamental-rights impact assessment (EU AI Act Art. 27): submitted as evidence for ``fria``."""

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from governance import compliance, documents
from governance.choices import EvidenceKind, GovernanceEvent
from governance.models import FundamentalRightsAssessment
from governance.models.eu_ai_act import FRIA_FIELDS
from governance.services._common import ensure_can_maintain
from governance.services.evidence import submit_evidence
from registry import audit


def fria_applies(agent) -> bool:
    """Whether the ``fria`` control is required of the agent under the policy in force (high-risk)."""
    assessment = compliance.current_assessment(agent)
    return any(r.control.code == "fria" for r in compliance.requirements_for(agent, assessment))


def submit_fria(agent, *, actor, **answers) -> FundamentalRightsAssessment:
    """Record the assessment and submit its PDF as evidence for the ``fria`` control, for the board's
    review; both in one transaction, so neither exists without the other."""
    ensure_can_maintain(actor, agent, "Only the agent's owner or a delegate may submit its impact assessment.")
    unknown = set(answers) - set(FRIA_FIELDS)
    if unknown:
        raise ValidationError({name: "This is not a question of the assessment." for name in sorted(unknown)})
    answers = {name: (answers.get(name) or "").strip() for name in FRIA_FIELDS}
    missing = {name: "Answer this question." for name, value in answers.items() if not value}
    if missing:
        raise ValidationError(missing)
    if not fria_applies(agent):
        raise ValidationError(
            {"__all__": f"{agent.name} is not classified high-risk, so Art. 27 does not ask for an assessment."}
        )
    now = timezone.now()
    with transaction.atomic():
        draft = FundamentalRightsAssessment(agent=agent, submitted_by=actor, submitted_at=now, **answers)
        pdf = documents.render_pdf(*documents.fria_document(draft, actor, now))
        upload = SimpleUploadedFile(f"fria-{agent.key}-{now:%Y-%m-%d}.pdf", pdf, content_type="application/pdf")
        evidence = submit_evidence(
            agent,
            "fria",
            actor=actor,
            kind=EvidenceKind.FILE,
            file=upload,
            summary=f"Fundamental-rights impact assessment of {now:%d %b %Y}",
        )
        draft.evidence = evidence
        draft.full_clean()
        draft.save()
        audit.record(
            GovernanceEvent.FRIA_SUBMITTED,
            actor=actor,
            target=draft,
            agent=agent,
            after={**answers, "evidence": evidence.pk},
        )
    return draft
