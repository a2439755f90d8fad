"""Evidence: submitted by the owner side, accepted or rejected by an independent board member."""

import hashlib
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.choices import EvidenceKind, EvidenceStatus, GovernanceEvent, Validity
from governance.models import Control, Evidence, RiskPolicy
from governance.services._common import ensure_can_maintain, ensure_independent_board_member
from registry import audit
from registry.exceptions import Conflict

# Content types accepted for uploads, with the file name endings that go with
# them and how the file's first bytes must look (None: text, must be UTF-8).
ALLOWED_UPLOADS = {
    "application/pdf": ((".pdf",), (b"%PDF-",)),
    "image/png": ((".png",), (b"\x89PNG\r\n\x1a\n",)),
    "image/jpeg": ((".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
    "text/plain": ((".txt", ".log"), None),
    "text/markdown": ((".md",), None),
    "text/csv": ((".csv",), None),
    "application/json": ((".json",), None),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ((".docx",), (b"PK\x03\x04",)),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ((".xlsx",), (b"PK\x03\x04",)),
}
AUDITED = ("control_code", "kind", "url", "file_name", "file_size", "content_type", "file_sha256", "summary", "version")


def max_upload_bytes() -> int:
    return settings.GOVERNANCE_EVIDENCE_MAX_BYTES


def _control(code: str) -> Control:
    control = Control.objects.filter(policy=RiskPolicy.objects.current(), code=code).first()
    if control is None:
        raise ValidationError({"control": f"{code!r} is not a control of the policy in force."})
    if control.validity == Validity.SYSTEM:
        raise ValidationError({"control": f"{control.name} is verified by the system; there is nothing to upload."})
    return control


def _check_upload(upload) -> tuple[bytes, str, str]:
    """Read and vet an upload: size, declared type, name ending and first bytes must all agree."""
    limit = max_upload_bytes()
    if upload.size is not None and upload.size > limit:
        raise ValidationError({"file": f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes."})
    content_type = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
    name = PurePath(upload.name or "evidence").name[:255]
    allowed = ALLOWED_UPLOADS.get(content_type)
    if allowed is None:
        kinds = ", ".join(sorted({ext for exts, _ in ALLOWED_UPLOADS.values() for ext in exts}))
        raise ValidationError({"file": f"Files of type {content_type or 'unknown'} are not accepted. Use {kinds}."})
    endings, magic = allowed
    if not name.lower().endswith(endings):
        raise ValidationError({"file": f"A {content_type} file must be named {' or '.join(endings)}."})
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError({"file": f"The file is larger than the limit of {limit:,} bytes."})
    if not data:
        raise ValidationError({"file": "The file is empty."})
    if magic is None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError({"file": "A text file must be UTF-8 text."}) from exc
    elif not data.startswith(magic):
        raise ValidationError({"file": f"The file's content is not a {content_type} file."})
    return data, content_type, name


def submit_evidence(
    agent,
    control_code: str,
    *,
    actor,
    kind: str,
    url: str = "",
    statement: str = "",
    file=None,
    version=None,
    summary: str = "",
) -> Evidence:
    """Submit a link, a file or a written statement for one required control.

    Per-release controls are tied to a version (default: the newest). A piece
    already awaiting review for the same control is replaced; accepted evidence
    stays in force until its successor is accepted.
    """
    ensure_can_maintain(actor, agent, "Only the agent's owner or a delegate may submit its evidence.")
    control = _control(control_code)
    if kind not in EvidenceKind.values:
        raise ValidationError({"kind": "Choose a link, a file or a written statement."})
    if control.validity == Validity.PER_RELEASE:
        version = version or agent.versions.order_by("-created_at", "-id").first()
        if version is None:
            raise ValidationError({"version": f"{control.name} is per release: record a version first."})
    else:
        version = None
    if version is not None and version.agent_id != agent.pk:
        raise ValidationError({"version": "This version belongs to another agent."})
    evidence = Evidence(
        agent=agent,
        control_code=control.code,
        version=version,
        kind=kind,
        summary=(summary or "").strip(),
        submitted_by=actor,
        submitted_at=timezone.now(),
        status=EvidenceStatus.SUBMITTED,
    )
    data = None
    if kind == EvidenceKind.LINK:
        if not (url or "").strip():
            raise ValidationError({"url": "Give the link to the evidence."})
        evidence.url = url.strip()
    elif kind == EvidenceKind.STATEMENT:
        if not (statement or "").strip():
            raise ValidationError({"statement": "Write the statement."})
        evidence.statement = statement.strip()
    else:
        if file is None:
            raise ValidationError({"file": "Choose a file to upload."})
        data, evidence.content_type, evidence.file_name = _check_upload(file)
        evidence.file_size = len(data)
        evidence.file_sha256 = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        evidence.full_clean(exclude=["file"], validate_constraints=False)
        # A new submission replaces the one still waiting for review; the constraints are checked
        # once it is out of the way (otherwise resubmitting would always be refused).
        Evidence.objects.select_for_update().filter(
            agent=agent, control_code=control.code, version=version, status=EvidenceStatus.SUBMITTED
        ).update(status=EvidenceStatus.SUPERSEDED)
        evidence.validate_constraints(exclude={"file"})
        if data is not None:
            # Stored under its hash; the file is written only when the row is valid.
            evidence.file.save(evidence.file_sha256, ContentFile(data), save=False)
        try:
            with transaction.atomic():
                evidence.save()
        except IntegrityError as exc:
            raise Conflict("Evidence for this control was submitted at the same time; reload.") from exc
        audit.record(
            GovernanceEvent.EVIDENCE_SUBMITTED,
            actor=actor,
            target=evidence,
            agent=agent,
            after=audit.snapshot(evidence, AUDITED),
        )
    return evidence


def _decide(evidence: Evidence, *, actor, what: str):
    agent = evidence.agent
    ensure_independent_board_member(actor, agent, what)
    if evidence.submitted_by_id == getattr(actor, "pk", None):
        raise ValidationError({"__all__": "You submitted this evidence; another board member must review it."})
    return agent


def _claim(evidence: Evidence, new_status: str, **fields) -> Evidence:
    updated = Evidence.objects.filter(pk=evidence.pk, status=EvidenceStatus.SUBMITTED).update(
        status=new_status, **fields
    )
    if not updated:
        current = Evidence.objects.get(pk=evidence.pk)
        raise Conflict(f"This evidence is no longer awaiting review (it is {current.get_status_display().lower()}).")
    return Evidence.objects.select_related("agent", "version").get(pk=evidence.pk)


def accept_evidence(evidence: Evidence, *, actor, reason: str = "") -> Evidence:
    """Accept evidence; it stays valid for the control's validity (days, this version, or until facts change)."""
    agent = _decide(evidence, actor=actor, what="accept this evidence")
    control = _control(evidence.control_code)
    now = timezone.now()
    valid_until = now + timedelta(days=control.validity_days) if control.validity == Validity.DAYS else None
    with transaction.atomic():
        # The previously accepted piece for the same control (and version) steps aside.
        Evidence.objects.filter(
            agent=agent, control_code=evidence.control_code, version=evidence.version, status=EvidenceStatus.ACCEPTED
        ).update(status=EvidenceStatus.SUPERSEDED)
        accepted = _claim(
            evidence,
            EvidenceStatus.ACCEPTED,
            reviewed_by=actor,
            reviewed_at=now,
            review_reason=(reason or "").strip(),
            valid_until=valid_until,
        )
        audit.record(
            GovernanceEvent.EVIDENCE_ACCEPTED,
            actor=actor,
            target=accepted,
            agent=agent,
            before={"status": EvidenceStatus.SUBMITTED},
            after={"status": EvidenceStatus.ACCEPTED, "valid_until": valid_until, "reason": accepted.review_reason},
        )
    return accepted


def reject_evidence(evidence: Evidence, *, actor, reason: str) -> Evidence:
    """Reject evidence with the reason the owner reads."""
    agent = _decide(evidence, actor=actor, what="reject this evidence")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Tell the owner why the evidence is not enough."})
    with transaction.atomic():
        rejected = _claim(
            evidence, EvidenceStatus.REJECTED, reviewed_by=actor, reviewed_at=timezone.now(), review_reason=reason
        )
        audit.record(
            GovernanceEvent.EVIDENCE_REJECTED,
            actor=actor,
            target=rejected,
            agent=agent,
            before={"status": EvidenceStatus.SUBMITTED},
            after={"status": EvidenceStatus.REJECTED, "reason": reason},
        )
    return rejected
