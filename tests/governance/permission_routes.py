"""Governance pages and API endpoints in the permission matrix (see tests/permission_matrix.py).

Who may do what: every signed-in person reads an agent's governance record
(evidence only its maintainers and the roles with the global view permission:
board, leadership, administrators); the owner side (owner, delegate,
administrator) submits; an independent board member decides. A service
account sees no agent (404 on details, empty lists, 400 when it names one).
"""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from governance import services
from governance.models import RiskPolicy
from tests.permission_matrix import Route, statuses

ANSWERS = {
    "action_impact": "internal_reversible",
    "irreversible_actions": False,
    "people_affected": "under_100",
    "eu_ai_act_category": "minimal",
    "eu_ai_act_reason": "No Annex III use.",
}

PAGE_READ = statuses(200, anonymous=302)
AGENT_PAGE_READ = statuses(200, service_account=404, anonymous=302)
OWNER_SIDE_PAGE = statuses(403, owner=200, delegate=200, admin=200, service_account=404, anonymous=302)
OWNER_SIDE_POST = statuses(403, owner=302, delegate=302, admin=302, service_account=404, anonymous=302)
RECORDERS_PAGE = statuses(403, owner=200, delegate=200, board=200, admin=200, service_account=404, anonymous=302)
RECORDERS_POST = statuses(403, owner=302, delegate=302, board=302, admin=302, service_account=404, anonymous=302)
BOARD_POST = statuses(403, board=302, service_account=404, anonymous=302)
# Evidence is hidden from people who neither maintain the agent nor hold a governance view role.
EVIDENCE_BOARD_POST = statuses(403, board=302, employee=404, outsider=404, service_account=404, anonymous=302)
POST_ONLY = statuses(405, anonymous=302)

API_READ = statuses(200, anonymous=401)
API_AGENT_READ = statuses(200, service_account=404, anonymous=401)
API_EVIDENCE_READ = statuses(200, employee=404, outsider=404, service_account=404, anonymous=401)
API_OWNER_SIDE_CREATE = statuses(403, owner=201, delegate=201, admin=201, service_account=400, anonymous=401)
API_RECORDERS_CREATE = statuses(403, owner=201, delegate=201, board=201, admin=201, service_account=400, anonymous=401)
API_BOARD_CREATE = statuses(403, board=201, service_account=400, anonymous=401)
API_OWNER_SIDE_ACT = statuses(403, owner=200, delegate=200, admin=200, service_account=404, anonymous=401)
API_RECORDERS_ACT = statuses(403, owner=200, delegate=200, board=200, admin=200, service_account=404, anonymous=401)
API_BOARD_ACT = statuses(403, board=200, service_account=404, anonymous=401)
API_EVIDENCE_BOARD_ACT = statuses(403, board=200, employee=404, outsider=404, service_account=404, anonymous=401)
API_CANCEL = statuses(403, owner=200, delegate=200, admin=200, board=200, service_account=404, anonymous=401)
PAGE_CANCEL = statuses(403, owner=302, delegate=302, admin=302, board=302, service_account=404, anonymous=302)


def key(c) -> dict:
    return {"key": c.agent.key}


def pk_of(name):
    return lambda c: {"pk": c.extra[name].pk}


def submitted_assessment(c) -> None:
    c.extra["assessment"] = services.submit_assessment(c.agent, actor=c.owner, **ANSWERS)


def submitted_evidence(c) -> None:
    c.extra["evidence"] = services.submit_evidence(
        c.agent, "scope", actor=c.owner, kind="statement", statement="The scope is on the agent record."
    )


def evidence_file(c) -> None:
    upload = SimpleUploadedFile("scope.txt", b"Scope: answers leave questions.", content_type="text/plain")
    c.extra["evidence"] = services.submit_evidence(c.agent, "scope", actor=c.owner, kind="file", file=upload)


SECRET_EVIDENCE_LINK = "https://vault.example.com/security-review?token=s3cr3t-evidence-token"
# Evidence is hidden from people who neither maintain the agent nor hold a governance view role,
# and so are its audit entries (the link, file name, hash and summary they copy).
EVIDENCE_WITHHELD_FROM = ("employee", "outsider")


def linked_evidence_accepted(c) -> None:
    """Evidence with a token in its link, submitted and accepted: two audit entries about it."""
    evidence = services.submit_evidence(
        c.agent, "scope", actor=c.owner, kind="link", url=SECRET_EVIDENCE_LINK, summary="Pen-test report"
    )
    services.accept_evidence(evidence, actor=c.board, reason="Read it: s3cr3t-review-note")


def open_review(c) -> None:
    c.extra["review"] = services.request_release_review(c.agent, c.version, "staging", actor=c.owner)


def condition(c) -> None:
    open_review(c)
    review = services.decide_review(
        c.extra["review"],
        actor=c.board,
        decision="approve_with_conditions",
        reason="Fine for staging.",
        conditions=["Share the evaluation report"],
    )
    c.extra["condition"] = review.conditions.get()
    c.extra["release"] = review.release


def incident(c) -> None:
    c.extra["incident"] = services.report_incident(
        c.agent, actor=c.owner, title="Wrong balance", severity="medium", what_happened="Showed last year's balance"
    )


def serious_incident(c) -> None:
    incident(c)
    c.extra["incident"] = services.mark_incident_serious(
        c.extra["incident"], actor=c.owner, category="health", aware_at=timezone.now()
    )


FRIA_ANSWERS = {
    "process_and_purpose": "Screens job applications for the recruiting team.",
    "period_and_frequency": "Every working day, all year.",
    "people_affected": "Applicants.",
    "risks_of_harm": "Unfair rejection.",
    "oversight_measures": "A recruiter reviews every rejection.",
    "materialisation_measures": "Complaints go to HR; the agent is suspended.",
}


def high_risk(c) -> None:
    assessment = services.submit_assessment(c.agent, actor=c.owner, **{**ANSWERS, "eu_ai_act_category": "high_risk"})
    services.confirm_assessment(assessment, actor=c.board)
    c.agent.refresh_from_db()


def fria(c) -> None:
    high_risk(c)
    c.extra["fria"] = services.submit_fria(c.agent, actor=c.owner, **FRIA_ANSWERS)


def now_minute() -> str:
    return timezone.now().strftime("%Y-%m-%dT%H:%M")


def waiver(c) -> None:
    c.extra["waiver"] = services.grant_waiver(
        c.agent, "escalation", actor=c.board, reason="Runbook next week", expires_at=timezone.now() + timedelta(days=7)
    )


def in_a_week() -> str:
    return (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")


CAMPAIGN_READERS = statuses(404, board=200, leadership=200, admin=200, anonymous=302)


def open_campaign(c):
    from governance.services import continuity

    c.extra["campaign"] = continuity.open_campaign(
        actor=c.board, name="Spring", deadline=timezone.now() + timedelta(days=21)
    )
    return c.extra["campaign"]


def campaign_pk(c) -> dict:
    return {"pk": (c.extra.get("campaign") or open_campaign(c)).pk}


def attestation_answer(c, user) -> dict:
    from governance.models import Attestation

    campaign = c.extra.get("campaign") or open_campaign(c)
    return {"attestation": Attestation.objects.get(campaign=campaign, agent=c.agent).pk, "answer": "unchanged"}


def attestation_row(c):
    from governance.models import Attestation

    campaign = c.extra.get("campaign") or open_campaign(c)
    return Attestation.objects.get(campaign=campaign, agent=c.agent)


def campaign_form(c, user) -> dict:
    deadline = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    return {
        "name": "Q3",
        "items": ["owner"],
        "deadline": deadline,
        "reminder_days": "7, 1",
        "grace_days": 14,
        "enforcement": "finding",
    }


ROUTES = [
    # --- Attestation campaigns and dormant agents ---------------------------------------------------
    Route("governance:campaigns", "GET", statuses(403, board=200, leadership=200, admin=200, anonymous=302)),
    Route(
        "governance:campaigns",
        "POST",
        statuses(403, board=302, anonymous=302),
        data=campaign_form,
        audit="campaign.opened",
    ),
    Route("governance:campaign", "GET", CAMPAIGN_READERS, kwargs=campaign_pk),
    Route("governance:campaign-missing-csv", "GET", CAMPAIGN_READERS, kwargs=campaign_pk),
    Route("governance:attestations", "GET", PAGE_READ),
    Route(
        "governance:attestations",
        "POST",
        statuses(404, owner=302, anonymous=302),
        data=attestation_answer,
        audit="attestation.answered",
    ),
    Route("api:attestationcampaign-list", "GET", API_READ),
    Route(
        "api:attestationcampaign-list",
        "POST",
        statuses(403, board=201, anonymous=401),
        data=lambda c, user: {"name": "Q3", "deadline": (timezone.now() + timedelta(days=30)).isoformat()},
        audit="campaign.opened",
    ),
    Route(
        "api:attestationcampaign-detail",
        "GET",
        statuses(404, board=200, leadership=200, admin=200, anonymous=401),
        kwargs=campaign_pk,
    ),
    Route("api:attestation-list", "GET", API_READ),
    Route(
        "api:attestation-detail",
        "GET",
        statuses(404, owner=200, board=200, leadership=200, admin=200, anonymous=401),
        kwargs=lambda c: {"pk": attestation_row(c).pk},
    ),
    Route(
        "api:attestation-answer",
        "POST",
        statuses(404, owner=200, admin=200, board=403, leadership=403, anonymous=401),
        kwargs=lambda c: {"pk": attestation_row(c).pk},
        data=lambda c, user: {"answer": "unchanged"},
        audit="attestation.answered",
    ),
    Route("governance:dormant", "GET", OWNER_SIDE_PAGE, kwargs=lambda c: {"key": c.agent.key}),
    Route(
        "governance:dormant",
        "POST",
        OWNER_SIDE_POST,
        kwargs=lambda c: {"key": c.agent.key},
        data=lambda c, user: {"action": "keep", "reason": "Used at year end only"},
        audit="dormant.kept",
    ),
    # The agent's history shows the audit entries about its evidence only to those who see the evidence.
    Route(
        "registry:agent-detail",
        "GET",
        AGENT_PAGE_READ,
        kwargs=key,
        setup=linked_evidence_accepted,
        label="evidence history",
        withheld=lambda c: "s3cr3t-evidence-token",
        withheld_from=EVIDENCE_WITHHELD_FROM,
    ),
    Route(
        "registry:agent-detail",
        "GET",
        AGENT_PAGE_READ,
        kwargs=key,
        setup=linked_evidence_accepted,
        label="evidence review note",
        withheld=lambda c: "s3cr3t-review-note",
        withheld_from=EVIDENCE_WITHHELD_FROM,
    ),
    Route(
        "registry:agent-history",
        "GET",
        AGENT_PAGE_READ,
        kwargs=key,
        setup=linked_evidence_accepted,
        label="evidence history",
        withheld=lambda c: "s3cr3t-evidence-token",
        withheld_from=EVIDENCE_WITHHELD_FROM,
    ),
    Route(
        "api:agent-history",
        "GET",
        API_AGENT_READ,
        kwargs=key,
        setup=linked_evidence_accepted,
        label="evidence history",
        withheld=lambda c: "s3cr3t-evidence-token",
        withheld_from=EVIDENCE_WITHHELD_FROM,
    ),
    Route(
        "api:agent-history",
        "GET",
        API_AGENT_READ,
        kwargs=key,
        setup=linked_evidence_accepted,
        label="evidence review note",
        withheld=lambda c: "s3cr3t-review-note",
        withheld_from=EVIDENCE_WITHHELD_FROM,
    ),
    # --- Pages -------------------------------------------------------------------------
    Route("governance:owe", "GET", PAGE_READ),
    Route("governance:costs", "GET", statuses(200, service_account=403, anonymous=302)),
    Route("governance:drift-parameters", "GET", POST_ONLY),
    Route(
        "governance:drift-parameters",
        "POST",
        statuses(403, admin=302, anonymous=302),
        data=lambda c, user: {"min_invocations": "300", "notes": "Fewer small agents judged"},
        audit="drift_policy.updated",
    ),
    Route("governance:unit-budget", "GET", POST_ONLY, kwargs=lambda c: {"slug": c.unit.slug}),
    Route(
        "governance:unit-budget",
        "POST",
        statuses(403, admin=302, anonymous=302),
        kwargs=lambda c: {"slug": c.unit.slug},
        data=lambda c, user: {"monthly_amount": "5000"},
        audit="budget.set",
    ),
    Route("governance:agent-budget", "GET", POST_ONLY, kwargs=key),
    Route(
        "governance:agent-budget",
        "POST",
        OWNER_SIDE_POST,
        kwargs=key,
        data=lambda c, user: {"monthly_amount": "250"},
        audit="budget.set",
    ),
    Route("governance:queue", "GET", statuses(403, board=200, anonymous=302)),
    Route("governance:index", "GET", statuses(302)),
    Route("governance:overview", "GET", statuses(403, admin=200, anonymous=302)),
    Route("governance:controls", "GET", PAGE_READ),
    Route("governance:agent", "GET", AGENT_PAGE_READ, kwargs=key),
    Route("governance:assessment-submit", "GET", OWNER_SIDE_PAGE, kwargs=key),
    Route(
        "governance:assessment-submit",
        "POST",
        OWNER_SIDE_POST,
        kwargs=key,
        data=lambda c, user: ANSWERS,
        audit="assessment.submitted",
    ),
    Route("governance:evidence-submit", "GET", OWNER_SIDE_PAGE, kwargs=lambda c: {"key": c.agent.key, "code": "scope"}),
    Route(
        "governance:evidence-submit",
        "POST",
        OWNER_SIDE_POST,
        kwargs=lambda c: {"key": c.agent.key, "code": "scope"},
        data=lambda c, user: {"kind": "link", "url": "https://wiki.example.com/leave-assistant/scope"},
        audit="evidence.submitted",
    ),
    Route("governance:review-request", "GET", POST_ONLY, kwargs=key),
    Route(
        "governance:review-request",
        "POST",
        OWNER_SIDE_POST,
        kwargs=key,
        data=lambda c, user: {"version": c.version.pk, "environment": "staging", "summary": "First staging run"},
        audit="review.requested",
    ),
    Route("governance:incident-report", "GET", RECORDERS_PAGE, kwargs=key),
    Route(
        "governance:incident-report",
        "POST",
        RECORDERS_POST,
        kwargs=key,
        data=lambda c, user: {"title": "Wrong answer", "severity": "low", "what_happened": "Quoted an old policy"},
        audit="incident.reported",
    ),
    Route("governance:waiver-grant", "GET", POST_ONLY, kwargs=key),
    Route(
        "governance:waiver-grant",
        "POST",
        BOARD_POST,
        kwargs=key,
        data=lambda c, user: {"control": "escalation", "reason": "Runbook next week", "expires_at": in_a_week()},
        audit="waiver.granted",
    ),
    Route("governance:assessment-decide", "GET", POST_ONLY, kwargs=lambda c: {"pk": 1}),
    Route(
        "governance:assessment-decide",
        "POST",
        BOARD_POST,
        setup=submitted_assessment,
        kwargs=pk_of("assessment"),
        data=lambda c, user: {"action": "confirm"},
        audit="assessment.confirmed",
    ),
    Route(
        "governance:evidence-file",
        "GET",
        statuses(200, employee=404, outsider=404, service_account=404, anonymous=302),
        setup=evidence_file,
        kwargs=pk_of("evidence"),
    ),
    Route("governance:evidence-decide", "GET", POST_ONLY, kwargs=lambda c: {"pk": 1}),
    Route(
        "governance:evidence-decide",
        "POST",
        EVIDENCE_BOARD_POST,
        setup=submitted_evidence,
        kwargs=pk_of("evidence"),
        data=lambda c, user: {"action": "accept"},
        audit="evidence.accepted",
    ),
    Route("governance:review", "GET", AGENT_PAGE_READ, setup=open_review, kwargs=pk_of("review")),
    Route(
        "governance:review",
        "POST",
        BOARD_POST,
        setup=open_review,
        kwargs=pk_of("review"),
        data=lambda c, user: {"decision": "approve", "reason": "Evidence checked"},
        audit="review.decided",
    ),
    Route("governance:review-cancel", "GET", POST_ONLY, kwargs=lambda c: {"pk": 1}),
    Route(
        "governance:review-cancel",
        "POST",
        PAGE_CANCEL,
        setup=open_review,
        kwargs=pk_of("review"),
        data=lambda c, user: {"reason": "Wrong version"},
        audit="review.cancelled",
    ),
    Route("governance:condition-close", "GET", POST_ONLY, kwargs=lambda c: {"pk": 1}),
    Route(
        "governance:condition-close",
        "POST",
        BOARD_POST,
        setup=condition,
        kwargs=pk_of("condition"),
        data=lambda c, user: {"note": "Report shared on the wiki"},
        audit="condition.closed",
    ),
    Route("governance:release-deploy", "GET", POST_ONLY, kwargs=lambda c: {"pk": 1}),
    Route(
        "governance:release-deploy",
        "POST",
        OWNER_SIDE_POST,
        setup=condition,
        kwargs=pk_of("release"),
        audit="release.deployed",
    ),
    Route("governance:incident-resolve", "GET", POST_ONLY, kwargs=lambda c: {"pk": 1}),
    Route(
        "governance:incident-resolve",
        "POST",
        RECORDERS_POST,
        setup=incident,
        kwargs=pk_of("incident"),
        data=lambda c, user: {"resolution": "Cache cleared"},
        audit="incident.resolved",
    ),
    Route("governance:incident-detail", "GET", AGENT_PAGE_READ, setup=serious_incident, kwargs=pk_of("incident")),
    Route(
        "governance:incident-detail",
        "POST",
        RECORDERS_POST,
        setup=incident,
        kwargs=pk_of("incident"),
        data=lambda c, user: {"serious-category": "death", "serious-aware_at": now_minute()},
        audit="incident.marked_serious",
        label="mark serious",
    ),
    Route(
        "governance:incident-detail",
        "POST",
        RECORDERS_POST,
        setup=serious_incident,
        kwargs=pk_of("incident"),
        data=lambda c, user: {
            "report-kind": "initial",
            "report-sent_at": now_minute(),
            "report-authority": "National market surveillance authority",
            "report-reference": "MSA-1",
        },
        audit="incident.authority_reported",
        label="authority report",
    ),
    Route(
        "governance:incident-regulator-report", "GET", AGENT_PAGE_READ, setup=serious_incident, kwargs=pk_of("incident")
    ),
    Route("governance:fria-submit", "GET", OWNER_SIDE_PAGE, setup=high_risk, kwargs=key),
    Route(
        "governance:fria-submit",
        "POST",
        OWNER_SIDE_POST,
        setup=high_risk,
        kwargs=key,
        data=lambda c, user: FRIA_ANSWERS,
        audit="fria.submitted",
    ),
    Route(
        "governance:fria-pdf",
        "GET",
        statuses(200, employee=404, outsider=404, service_account=404, anonymous=302),
        setup=fria,
        kwargs=pk_of("fria"),
    ),
    Route(
        "governance:technical-file",
        "GET",
        AGENT_PAGE_READ,
        kwargs=lambda c: {"key": c.agent.key, "fmt": "pdf"},
        label="pdf",
    ),
    Route(
        "governance:technical-file",
        "GET",
        AGENT_PAGE_READ,
        kwargs=lambda c: {"key": c.agent.key, "fmt": "md"},
        label="md",
    ),
    Route("governance:obligations", "GET", PAGE_READ),
    Route(
        "governance:obligations",
        "POST",
        statuses(403, admin=302, anonymous=302),
        data=lambda c, user: {
            **{f"date_{e['code']}": e["applies_from"] for e in RiskPolicy.objects.current().eu_ai_act_timeline},
            "date_high_risk_annex_iii": "2028-01-03",
            "notes": "Amendment moved Annex III",
        },
        audit="policy.published",
    ),
    Route("governance:waiver-revoke", "GET", POST_ONLY, kwargs=lambda c: {"pk": 1}),
    Route(
        "governance:waiver-revoke",
        "POST",
        BOARD_POST,
        setup=waiver,
        kwargs=pk_of("waiver"),
        audit="waiver.revoked",
    ),
    # --- API ---------------------------------------------------------------------------
    Route("api:riskpolicy-list", "GET", API_READ),
    Route("api:riskpolicy-detail", "GET", API_AGENT_READ, kwargs=lambda c: {"version": 1}),
    Route("api:control-list", "GET", API_READ),
    Route(
        "api:control-detail",
        "GET",
        API_AGENT_READ,
        kwargs=lambda c: {"pk": RiskPolicy.objects.current().controls.get(code="scope").pk},
    ),
    Route("api:agent-requirements", "GET", API_AGENT_READ, kwargs=key),
    Route("api:riskassessment-list", "GET", API_READ),
    Route(
        "api:riskassessment-list",
        "POST",
        API_OWNER_SIDE_CREATE,
        data=lambda c, user: {"agent": c.agent.key, **ANSWERS},
        audit="assessment.submitted",
    ),
    Route("api:riskassessment-detail", "GET", API_AGENT_READ, setup=submitted_assessment, kwargs=pk_of("assessment")),
    Route(
        "api:riskassessment-confirm",
        "POST",
        API_BOARD_ACT,
        setup=submitted_assessment,
        kwargs=pk_of("assessment"),
        data=lambda c, user: {},
        audit="assessment.confirmed",
    ),
    Route(
        "api:riskassessment-return-to-owner",
        "POST",
        API_BOARD_ACT,
        setup=submitted_assessment,
        kwargs=pk_of("assessment"),
        data=lambda c, user: {"reason": "More people are affected"},
        audit="assessment.returned",
    ),
    Route("api:evidence-list", "GET", API_READ),
    Route(
        "api:evidence-list",
        "POST",
        API_OWNER_SIDE_CREATE,
        data=lambda c, user: {"agent": c.agent.key, "control": "scope", "kind": "statement", "statement": "On record"},
        audit="evidence.submitted",
    ),
    Route("api:evidence-detail", "GET", API_EVIDENCE_READ, setup=submitted_evidence, kwargs=pk_of("evidence")),
    Route("api:evidence-download", "GET", API_EVIDENCE_READ, setup=evidence_file, kwargs=pk_of("evidence")),
    Route(
        "api:evidence-accept",
        "POST",
        API_EVIDENCE_BOARD_ACT,
        setup=submitted_evidence,
        kwargs=pk_of("evidence"),
        data=lambda c, user: {},
        audit="evidence.accepted",
    ),
    Route(
        "api:evidence-reject",
        "POST",
        API_EVIDENCE_BOARD_ACT,
        setup=submitted_evidence,
        kwargs=pk_of("evidence"),
        data=lambda c, user: {"reason": "Forbidden actions missing"},
        audit="evidence.rejected",
    ),
    Route("api:review-list", "GET", API_READ),
    Route(
        "api:review-list",
        "POST",
        API_OWNER_SIDE_CREATE,
        data=lambda c, user: {"agent": c.agent.key, "version": "1.0.0", "environment": "staging"},
        audit="review.requested",
    ),
    Route("api:review-detail", "GET", API_AGENT_READ, setup=open_review, kwargs=pk_of("review")),
    Route(
        "api:review-decide",
        "POST",
        API_BOARD_ACT,
        setup=open_review,
        kwargs=pk_of("review"),
        data=lambda c, user: {"decision": "approve", "reason": "Evidence checked"},
        audit="review.decided",
    ),
    Route(
        "api:review-cancel",
        "POST",
        API_CANCEL,
        setup=open_review,
        kwargs=pk_of("review"),
        data=lambda c, user: {"reason": "Wrong version"},
        audit="review.cancelled",
    ),
    Route("api:reviewcondition-list", "GET", API_READ),
    Route("api:reviewcondition-detail", "GET", API_AGENT_READ, setup=condition, kwargs=pk_of("condition")),
    Route(
        "api:reviewcondition-close",
        "POST",
        API_BOARD_ACT,
        setup=condition,
        kwargs=pk_of("condition"),
        data=lambda c, user: {"note": "Report shared"},
        audit="condition.closed",
    ),
    Route("api:release-list", "GET", API_READ),
    Route("api:release-detail", "GET", API_AGENT_READ, setup=condition, kwargs=pk_of("release")),
    Route(
        "api:release-deploy",
        "POST",
        API_OWNER_SIDE_ACT,
        setup=condition,
        kwargs=pk_of("release"),
        data=lambda c, user: {},
        audit="release.deployed",
    ),
    Route("api:incident-list", "GET", API_READ),
    Route(
        "api:incident-list",
        "POST",
        API_RECORDERS_CREATE,
        data=lambda c, user: {"agent": c.agent.key, "title": "Wrong", "severity": "low", "what_happened": "Old policy"},
        audit="incident.reported",
    ),
    Route("api:incident-detail", "GET", API_AGENT_READ, setup=incident, kwargs=pk_of("incident")),
    Route(
        "api:incident-detail",
        "PATCH",
        API_RECORDERS_ACT,
        setup=incident,
        kwargs=pk_of("incident"),
        data=lambda c, user: {"follow_up_actions": "Add a regression test"},
        audit="incident.changed",
    ),
    # Incidents are corrected field by field (PATCH); a full replacement is not offered.
    Route("api:incident-detail", "PUT", statuses(405, anonymous=401), setup=incident, kwargs=pk_of("incident")),
    Route(
        "api:incident-resolve",
        "POST",
        API_RECORDERS_ACT,
        setup=incident,
        kwargs=pk_of("incident"),
        data=lambda c, user: {"resolution": "Cache cleared"},
        audit="incident.resolved",
    ),
    Route(
        "api:incident-mark-serious",
        "POST",
        API_RECORDERS_ACT,
        setup=incident,
        kwargs=pk_of("incident"),
        data=lambda c, user: {"serious_category": "critical_infrastructure", "aware_at": timezone.now().isoformat()},
        audit="incident.marked_serious",
    ),
    Route(
        "api:incident-authority-reports",
        "POST",
        statuses(403, owner=201, delegate=201, board=201, admin=201, service_account=404, anonymous=401),
        setup=serious_incident,
        kwargs=pk_of("incident"),
        data=lambda c, user: {
            "kind": "initial",
            "sent_at": timezone.now().isoformat(),
            "authority": "National market surveillance authority",
            "reference": "MSA-1",
        },
        audit="incident.authority_reported",
    ),
    Route("api:incident-regulator-report", "GET", API_AGENT_READ, setup=serious_incident, kwargs=pk_of("incident")),
    Route("api:fundamentalrightsassessment-list", "GET", API_READ),
    Route(
        "api:fundamentalrightsassessment-list",
        "POST",
        API_OWNER_SIDE_CREATE,
        setup=high_risk,
        data=lambda c, user: {"agent": c.agent.key, **FRIA_ANSWERS},
        audit="fria.submitted",
    ),
    Route("api:fundamentalrightsassessment-detail", "GET", API_EVIDENCE_READ, setup=fria, kwargs=pk_of("fria")),
    Route("api:fundamentalrightsassessment-pdf", "GET", API_EVIDENCE_READ, setup=fria, kwargs=pk_of("fria")),
    Route("api:agent-technical-file", "GET", API_AGENT_READ, kwargs=key),
    Route("api:eu-ai-act-obligations", "GET", API_READ),
    Route(
        "api:eu-ai-act-obligations",
        "POST",
        statuses(403, admin=200, anonymous=401),
        data=lambda c, user: {"dates": {"high_risk_annex_iii": "2028-01-03"}, "notes": "Amendment moved Annex III"},
        audit="policy.published",
    ),
    Route("api:waiver-list", "GET", API_READ),
    Route(
        "api:waiver-list",
        "POST",
        API_BOARD_CREATE,
        data=lambda c, user: {
            "agent": c.agent.key,
            "control": "escalation",
            "reason": "Runbook next week",
            "expires_at": (timezone.now() + timedelta(days=7)).isoformat(),
        },
        audit="waiver.granted",
    ),
    Route("api:waiver-detail", "GET", API_AGENT_READ, setup=waiver, kwargs=pk_of("waiver")),
    Route(
        "api:waiver-revoke",
        "POST",
        API_BOARD_ACT,
        setup=waiver,
        kwargs=pk_of("waiver"),
        data=lambda c, user: {},
        audit="waiver.revoked",
    ),
]
