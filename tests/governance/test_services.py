"""Governance services: separation of duties, concurrency, uploads, staleness, and the audit row of each."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from governance import services
from governance.models import Evidence, Incident, Review, RiskAssessment, RiskPolicy, Waiver
from registry import services as registry_services
from registry.exceptions import Conflict
from registry.models import AuditEvent
from tests.governance.fixtures import ANSWERS


def last_audit(event_type):
    return AuditEvent.objects.filter(event_type=event_type).order_by("-seq").first()


# --- Assessments --------------------------------------------------------------------


def test_submitting_an_assessment_scores_it_under_the_policy_in_force(agent, owner):
    # when
    assessment = services.submit_assessment(agent, actor=owner, **ANSWERS)
    # then
    assert (assessment.status, assessment.computed_tier, assessment.score) == ("submitted", "medium", 4)
    assert assessment.policy.version == 1
    event = last_audit("assessment.submitted")
    assert event.actor == owner
    assert event.agent_id == agent.pk
    assert event.after["computed_tier"] == "medium"


def test_only_the_owner_side_submits_an_assessment(agent, employee, board):
    for actor in (employee, board):
        with pytest.raises(PermissionDenied):
            services.submit_assessment(agent, actor=actor, **ANSWERS)
    assert not RiskAssessment.objects.exists()


def test_confirming_sets_the_agents_tier_and_keeps_both_values_of_an_override(agent, owner, board):
    # given
    assessment = services.submit_assessment(agent, actor=owner, **ANSWERS)
    # when
    confirmed = services.confirm_assessment(
        assessment, actor=board, override_tier="high", override_justification="Handles grievances too."
    )
    # then
    agent.refresh_from_db()
    assert (confirmed.computed_tier, confirmed.override_tier, confirmed.tier) == ("medium", "high", "high")
    assert agent.risk_tier == "high"
    event = last_audit("assessment.confirmed")
    assert event.actor == board
    assert event.after["override_justification"] == "Handles grievances too."
    assert event.after["computed_tier"] == "medium"
    assert event.after["policy_version"] == 1


def test_an_override_needs_a_written_justification(agent, owner, board):
    assessment = services.submit_assessment(agent, actor=owner, **ANSWERS)
    with pytest.raises(ValidationError) as refused:
        services.confirm_assessment(assessment, actor=board, override_tier="low")
    assert "override_justification" in refused.value.message_dict
    assessment.refresh_from_db()
    assert assessment.status == "submitted"


def test_a_board_member_cannot_confirm_for_an_agent_they_maintain(make_agent, owner, board, delegate):
    # given: the board member is a delegate of the agent
    agent = make_agent("fin.invoice-bot")
    registry_services.grant_delegate(agent, board, actor=owner)
    assessment = services.submit_assessment(agent, actor=owner, **ANSWERS)
    # when / then
    with pytest.raises(PermissionDenied):
        services.confirm_assessment(assessment, actor=board)
    assessment.refresh_from_db()
    assert assessment.status == "submitted"
    assert not AuditEvent.objects.filter(event_type="assessment.confirmed").exists()


def test_returning_an_assessment_keeps_the_reason(agent, owner, board):
    assessment = services.submit_assessment(agent, actor=owner, **ANSWERS)
    returned = services.return_assessment(assessment, actor=board, reason="People affected is larger.")
    assert returned.status == "returned"
    assert last_audit("assessment.returned").after["reason"] == "People affected is larger."


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("autonomy_level", 3),
        ("pattern", "workplace_services"),
        ("external_facing", True),
        ("data_classification", "restricted"),
        ("handles_personal_data", True),
        ("handles_regulated_data", True),
    ],
)
def test_changing_a_risk_fact_marks_the_assessment_stale(agent, owner, assess, change, value):
    # given
    assessment = assess(agent)
    # when
    registry_services.update_agent(agent, actor=owner, **{change: value})
    # then
    assessment.refresh_from_db()
    assert assessment.is_stale
    assert change.replace("_", " ") in assessment.stale_reason
    assert last_audit("assessment.stale").target_id == str(assessment.pk)


def test_changing_a_non_risk_fact_keeps_the_assessment_current(agent, owner, assess):
    assessment = assess(agent)
    registry_services.update_agent(agent, actor=owner, description="Now friendlier")
    assessment.refresh_from_db()
    assert not assessment.is_stale


@pytest.mark.parametrize("change", [{"autonomy_level": 3}, {"external_facing": True}])
def test_raising_autonomy_or_going_external_sends_a_production_agent_back_to_review(gate_ready, owner, change):
    # given
    agent = registry_services.transition_agent(gate_ready, "production", actor=owner, reason="live")
    # when
    agent = registry_services.update_agent(agent, actor=owner, **change)
    # then
    agent.refresh_from_db()
    assert agent.lifecycle == "in_review"
    event = AuditEvent.objects.filter(event_type="agent.transitioned").order_by("-seq").first()
    assert event.actor is None
    assert event.after["lifecycle"] == "in_review"
    assert event.after["reason"].startswith("Back to review")


def test_lowering_autonomy_keeps_a_production_agent_in_production(gate_ready, owner):
    agent = registry_services.transition_agent(gate_ready, "production", actor=owner, reason="live")
    agent = registry_services.update_agent(agent, actor=owner, autonomy_level=1)
    agent.refresh_from_db()
    assert agent.lifecycle == "production"


# --- Evidence ------------------------------------------------------------------------


def test_board_accepts_evidence_with_validity_from_the_control(agent, owner, board, assess):
    # given
    assess(agent)
    evidence = services.submit_evidence(
        agent, "tool-allowlist", actor=owner, kind="link", url="https://wiki.example.com/tools"
    )
    # when
    accepted = services.accept_evidence(evidence, actor=board)
    # then
    assert accepted.status == "accepted"
    assert abs(accepted.valid_until - (timezone.now() + timedelta(days=365))) < timedelta(minutes=1)
    event = last_audit("evidence.accepted")
    assert (event.actor, event.agent_id, event.after["status"]) == (board, agent.pk, "accepted")


def test_nobody_accepts_their_own_evidence(agent, owner, board, board2):
    # given: a board member who is also a delegate submits evidence
    registry_services.grant_delegate(agent, board2, actor=owner)
    evidence = services.submit_evidence(agent, "scope", actor=board2, kind="statement", statement="Scope doc")
    # when / then
    with pytest.raises((PermissionDenied, ValidationError)):
        services.accept_evidence(evidence, actor=board2)
    evidence.refresh_from_db()
    assert evidence.status == "submitted"


@pytest.mark.parametrize("persona", ["owner", "delegate", "employee", "leadership", "admin"])
def test_only_board_members_accept_or_reject_evidence(agent, owner, persona, request):
    evidence = services.submit_evidence(agent, "scope", actor=owner, kind="statement", statement="Scope doc")
    actor = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.accept_evidence(evidence, actor=actor)
    with pytest.raises(PermissionDenied):
        services.reject_evidence(evidence, actor=actor, reason="no")
    evidence.refresh_from_db()
    assert evidence.status == "submitted"


def test_a_rejection_needs_a_reason_the_owner_reads(agent, owner, board):
    evidence = services.submit_evidence(agent, "scope", actor=owner, kind="statement", statement="Scope doc")
    with pytest.raises(ValidationError):
        services.reject_evidence(evidence, actor=board, reason=" ")
    rejected = services.reject_evidence(evidence, actor=board, reason="Forbidden actions are missing.")
    assert rejected.review_reason == "Forbidden actions are missing."
    assert last_audit("evidence.rejected").after["reason"] == "Forbidden actions are missing."


def test_a_second_decision_on_the_same_evidence_is_a_conflict(agent, owner, board, board2):
    evidence = services.submit_evidence(agent, "scope", actor=owner, kind="statement", statement="Scope doc")
    services.accept_evidence(evidence, actor=board)
    with pytest.raises(Conflict):
        services.reject_evidence(evidence, actor=board2, reason="too late")
    evidence.refresh_from_db()
    assert evidence.status == "accepted"
    assert AuditEvent.objects.filter(event_type__startswith="evidence.").count() == 2


def test_system_controls_take_no_uploads(agent, owner):
    with pytest.raises(ValidationError) as refused:
        services.submit_evidence(agent, "monitoring", actor=owner, kind="statement", statement="trust me")
    assert "verified by the system" in refused.value.message_dict["control"][0]


PDF = b"%PDF-1.7\n" + b"x" * 100


def test_an_uploaded_file_is_stored_with_its_hash(agent, owner, settings, tmp_path):
    # given
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("scope.pdf", PDF, content_type="application/pdf")
    # when
    evidence = services.submit_evidence(agent, "scope", actor=owner, kind="file", file=upload)
    # then
    import hashlib

    assert evidence.file_sha256 == hashlib.sha256(PDF).hexdigest()
    assert (evidence.file_name, evidence.file_size, evidence.content_type) == ("scope.pdf", len(PDF), "application/pdf")
    assert evidence.file.read() == PDF
    assert last_audit("evidence.submitted").after["file_sha256"] == evidence.file_sha256


@pytest.mark.parametrize(
    ("name", "content", "content_type", "message"),
    [
        ("big.pdf", b"%PDF-" + b"x" * 2000, "application/pdf", "the limit is 1,024 bytes"),
        ("run.exe", b"MZ...", "application/x-msdownload", "are not accepted"),
        ("scope.html", b"<script>", "text/html", "are not accepted"),
        ("fake.pdf", b"MZ not a pdf", "application/pdf", "is not a application/pdf file"),
        ("scope.png", b"%PDF-1.7", "application/pdf", "must be named .pdf"),
        ("notes.txt", b"\xff\xfe\x00bad", "text/plain", "UTF-8"),
        ("empty.txt", b"", "text/plain", "empty"),
    ],
)
def test_it_refuses_uploads_beyond_the_limits(agent, owner, settings, tmp_path, name, content, content_type, message):
    # Through the settings fixture only: an override_settings decorator beside it was left enabled after
    # the test (the two unwound out of order), shrinking the limit for every later test of the session.
    settings.GOVERNANCE_EVIDENCE_MAX_BYTES = 1024
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    with pytest.raises(ValidationError) as refused:
        services.submit_evidence(agent, "scope", actor=owner, kind="file", file=upload)
    assert message in refused.value.message_dict["file"][0]
    assert not Evidence.objects.exists()
    assert not list(tmp_path.rglob("*.*"))


# --- Reviews ---------------------------------------------------------------------------


def test_approving_a_release_review_creates_the_release_and_audits_it(agent, version, owner, board):
    review = services.request_release_review(agent, version, "production", actor=owner)
    decided = services.decide_review(review, actor=board, decision="approve", reason="Evidence checked.")
    assert decided.release.version == version
    event = last_audit("review.decided")
    assert (event.actor, event.after["decision"], event.after["reason"]) == (board, "approve", "Evidence checked.")
    assert last_audit("release.approved").after == {"version": "1.0.0", "environment": "production"}


def test_conditions_are_tracked_to_closure(agent, version, owner, board, board2):
    review = services.request_release_review(agent, version, "production", actor=owner)
    decided = services.decide_review(
        review,
        actor=board,
        decision="approve_with_conditions",
        reason="Fine with two follow-ups.",
        conditions=["Add a rollback drill", "Share the eval report"],
    )
    conditions = list(decided.conditions.all())
    assert [c.status for c in conditions] == ["open", "open"]
    services.close_condition(conditions[0], actor=board2, note="Drill done 3 May.")
    conditions[0].refresh_from_db()
    assert conditions[0].status == "closed"
    assert last_audit("condition.closed").after["note"] == "Drill done 3 May."
    with pytest.raises(Conflict):
        services.close_condition(conditions[0], actor=board2, note="again")


def test_approval_with_conditions_needs_conditions(agent, version, owner, board):
    review = services.request_release_review(agent, version, "production", actor=owner)
    with pytest.raises(ValidationError):
        services.decide_review(review, actor=board, decision="approve_with_conditions", reason="ok")
    review.refresh_from_db()
    assert review.status == "open"


def test_a_second_decision_on_a_review_is_a_conflict_and_changes_nothing(agent, version, owner, board, board2):
    # given: board decided; board2 still holds the stale copy
    review = services.request_release_review(agent, version, "production", actor=owner)
    stale_copy = Review.objects.get(pk=review.pk)
    services.decide_review(review, actor=board, decision="approve", reason="ok")
    # when / then
    with pytest.raises(Conflict) as conflict:
        services.decide_review(stale_copy, actor=board2, decision="reject", reason="no")
    assert "already decided by Bea" in conflict.value.message
    review.refresh_from_db()
    assert (review.decision, review.decided_by) == ("approve", board)
    assert AuditEvent.objects.filter(event_type="review.decided").count() == 1
    assert AuditEvent.objects.filter(event_type="release.approved").count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks between threads")
@pytest.mark.django_db(transaction=True)
def test_concurrent_decisions_on_one_review_apply_exactly_once(make_agent, owner, board, board2):
    # given
    agent = make_agent("ops.concurrent")
    version = registry_services.create_version(agent, actor=owner, label="1.0.0", model_provider="a", model_name="m")
    review = services.request_release_review(agent, version, "production", actor=owner)
    barrier = threading.Barrier(2)
    outcomes = []

    def decide(actor, decision):
        try:
            barrier.wait()
            services.decide_review(Review.objects.get(pk=review.pk), actor=actor, decision=decision, reason="r")
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    # when
    threads = [
        threading.Thread(target=decide, args=(board, "approve")),
        threading.Thread(target=decide, args=(board2, "reject")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert sorted(outcomes) == ["conflict", "ok"]
    assert AuditEvent.objects.filter(event_type="review.decided").count() == 1


def test_deciding_a_periodic_review_schedules_the_next_by_the_tier_cadence(gate_ready, owner, board2):
    # given: the medium-tier agent got a periodic review when it was approved
    review = Review.objects.get(agent=gate_ready, kind="periodic", status="open")
    assert abs(review.due_at - (timezone.now() + timedelta(days=180))) < timedelta(minutes=1)
    # when
    services.decide_review(review, actor=board2, decision="approve", reason="Still fine.")
    # then
    nxt = Review.objects.get(agent=gate_ready, kind="periodic", status="open")
    assert abs(nxt.due_at - (timezone.now() + timedelta(days=180))) < timedelta(minutes=1)
    assert Review.objects.periodic_overdue(timezone.now() + timedelta(days=181)).filter(pk=nxt.pk).exists()


# --- Incidents and waivers --------------------------------------------------------------


def test_an_open_high_incident_can_suspend_the_agent(gate_ready, owner):
    agent = registry_services.transition_agent(gate_ready, "production", actor=owner, reason="live")
    incident = services.report_incident(
        agent,
        actor=owner,
        title="Leaked a payslip",
        severity="high",
        what_happened="Showed another's payslip",
        suspend=True,
    )
    agent.refresh_from_db()
    assert agent.lifecycle == "suspended"
    assert last_audit("incident.reported").target_id == str(incident.pk)
    assert "suspended for high incident" in last_audit("agent.transitioned").after["reason"]


def test_a_low_incident_cannot_suspend(gate_ready, owner):
    agent = registry_services.transition_agent(gate_ready, "production", actor=owner, reason="live")
    with pytest.raises(ValidationError):
        services.report_incident(agent, actor=owner, title="Typo", severity="low", what_happened="x", suspend=True)
    agent.refresh_from_db()
    assert agent.lifecycle == "production"
    assert not Incident.objects.exists()


def test_resolving_an_incident_records_when_and_how(agent, owner):
    incident = services.report_incident(agent, actor=owner, title="Slow", severity="medium", what_happened="Timeouts")
    resolved = services.resolve_incident(incident, actor=owner, resolution="Raised the pool size")
    assert resolved.status == "resolved"
    assert resolved.resolved_at >= resolved.detected_at
    assert last_audit("incident.resolved").after["resolution"] == "Raised the pool size"


def test_outsiders_cannot_record_incidents(agent, employee):
    with pytest.raises(PermissionDenied):
        services.report_incident(agent, actor=employee, title="x", severity="low", what_happened="x")


def test_waivers_are_limited_in_time_and_need_a_reason(agent, board):
    now = timezone.now()
    with pytest.raises(ValidationError):
        services.grant_waiver(agent, "escalation", actor=board, reason="", expires_at=now + timedelta(days=5))
    with pytest.raises(ValidationError):
        services.grant_waiver(agent, "escalation", actor=board, reason="r", expires_at=now + timedelta(days=400))
    with pytest.raises(ValidationError):
        services.grant_waiver(agent, "owner", actor=board, reason="r", expires_at=now + timedelta(days=5))
    waiver = services.grant_waiver(
        agent, "escalation", actor=board, reason="Runbook next week", expires_at=now + timedelta(days=5)
    )
    assert Waiver.objects.in_force(now).get() == waiver
    assert last_audit("waiver.granted").after["reason"] == "Runbook next week"


def test_owners_cannot_waive_their_own_gaps(agent, owner):
    with pytest.raises(PermissionDenied):
        services.grant_waiver(
            agent, "escalation", actor=owner, reason="r", expires_at=timezone.now() + timedelta(days=5)
        )


# --- Policy versions ----------------------------------------------------------------------


def test_an_admin_edit_publishes_a_new_version_and_keeps_the_old_one(admin):
    v1 = RiskPolicy.objects.current()
    v2 = services.publish_policy(
        v1,
        actor=admin,
        notes="Tighter medium band",
        changes={"thresholds": {"medium": 3, "high": 8, "critical": 12}},
        control_changes={"kill-switch": {"validity_days": 90}},
    )
    v1.refresh_from_db()
    assert (v1.version, v1.thresholds["medium"]) == (1, 4)
    assert (v2.version, v2.thresholds["medium"]) == (2, 3)
    assert v2.controls.count() == 29
    assert v2.controls.get(code="kill-switch").validity_days == 90
    assert v1.controls.get(code="kill-switch").validity_days == 180
    assert last_audit("policy.published").after["version"] == 2


def test_assessments_keep_the_policy_version_they_used(agent, owner, admin):
    old = services.submit_assessment(agent, actor=owner, **ANSWERS)
    services.publish_policy(
        RiskPolicy.objects.current(),
        actor=admin,
        notes="n",
        changes={"thresholds": {"medium": 5, "high": 8, "critical": 12}},
    )
    old.refresh_from_db()
    assert old.policy.version == 1
    new = services.submit_assessment(agent, actor=owner, **ANSWERS)
    assert (new.policy.version, new.computed_tier) == (2, "low")


def test_only_platform_admins_publish_policy(board):
    with pytest.raises(PermissionDenied):
        services.publish_policy(RiskPolicy.objects.current(), actor=board, notes="n")


def test_a_policy_that_cannot_score_is_refused(admin):
    with pytest.raises(ValidationError):
        services.publish_policy(
            RiskPolicy.objects.current(), actor=admin, notes="n", changes={"thresholds": {"medium": 9, "high": 8}}
        )
    assert RiskPolicy.objects.count() == 1


def test_submitting_again_replaces_the_evidence_still_waiting_for_review(agent, owner):
    # given
    first = services.submit_evidence(agent, "scope", actor=owner, kind="statement", statement="Draft scope.")
    # when
    second = services.submit_evidence(agent, "scope", actor=owner, kind="statement", statement="Final scope.")
    # then
    first.refresh_from_db()
    assert (first.status, second.status) == ("superseded", "submitted")


def test_a_second_waiting_piece_is_refused_in_a_sentence(agent, owner):
    # given: a piece waiting for review
    services.submit_evidence(agent, "scope", actor=owner, kind="statement", statement="Scope.")
    twin = Evidence(
        agent=agent, control_code="scope", kind="statement", statement="Again.", status="submitted", submitted_by=owner
    )
    # when
    with pytest.raises(ValidationError) as exc:
        twin.validate_constraints()
    # then
    message = " ".join(exc.value.messages)
    assert "Constraint" not in message
    assert "Evidence for this control is already waiting for the board's review" in message
