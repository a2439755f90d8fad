"""The governance API: requirements with their state, uploads, decisions and conflicts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance import services
from governance.models import Evidence, Review
from registry.models import AuditEvent
from tests.governance.fixtures import ANSWERS


def test_requirements_say_why_each_control_applies_and_what_the_gate_misses(agent, api_for, assess, employee):
    # given
    assess(agent)
    # when
    response = api_for(employee).get(f"/api/v1/agents/{agent.key}/requirements/")
    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["tier"], body["policy_version"], body["compliant"]) == ("medium", 1, False)
    rows = {r["control"]: r for r in body["requirements"]}
    assert rows["tool-allowlist"]["reasons"] == ["tier medium"]
    assert rows["tool-allowlist"]["state"] == "missing"
    assert rows["owner"]["state"] == "satisfied"
    assert rows["monitoring"]["state"] == "unknown"
    assert "A version to release: record the agent's version first." in body["gate"]


def test_an_assessment_submitted_through_the_api_is_scored(agent, api_for, owner):
    response = api_for(owner).post("/api/v1/risk-assessments/", {"agent": agent.key, **ANSWERS}, format="json")
    assert response.status_code == 201
    assert (response.json()["computed_tier"], response.json()["score"], response.json()["policy_version"]) == (
        "medium",
        4,
        1,
    )


def test_a_file_is_uploaded_through_the_api_and_served_only_to_those_who_may_see_it(
    agent, api_for, owner, employee, board, settings, tmp_path
):
    # given
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("scope.md", b"# Scope\nAnswers leave questions.", content_type="text/markdown")
    # when
    response = api_for(owner).post(
        "/api/v1/evidence/",
        {"agent": agent.key, "control": "scope", "kind": "file", "file": upload},
        format="multipart",
    )
    # then
    assert response.status_code == 201, response.content
    evidence_id = response.json()["id"]
    assert len(response.json()["file_sha256"]) == 64
    download = api_for(board).get(f"/api/v1/evidence/{evidence_id}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"# Scope\nAnswers leave questions."
    assert api_for(employee).get(f"/api/v1/evidence/{evidence_id}/download/").status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [("tool.exe", b"MZ", "application/octet-stream"), ("a.pdf", b"not a pdf", "application/pdf")],
)
def test_refused_uploads_are_a_400_and_leave_nothing_behind(
    agent, api_for, owner, settings, tmp_path, name, content, content_type
):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    response = api_for(owner).post(
        "/api/v1/evidence/",
        {"agent": agent.key, "control": "scope", "kind": "file", "file": upload},
        format="multipart",
    )
    assert response.status_code == 400
    assert "file" in response.json()
    assert not Evidence.objects.exists()


def test_an_oversized_upload_is_refused(agent, api_for, owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.GOVERNANCE_EVIDENCE_MAX_BYTES = 100
    upload = SimpleUploadedFile("big.txt", b"x" * 101, content_type="text/plain")
    response = api_for(owner).post(
        "/api/v1/evidence/",
        {"agent": agent.key, "control": "scope", "kind": "file", "file": upload},
        format="multipart",
    )
    assert response.status_code == 400
    assert "the limit is 100 bytes" in response.json()["file"][0]


def test_a_board_member_cannot_accept_their_own_submission_through_the_api(agent, api_for, owner, board):
    # given: the board member is a delegate and submitted the evidence
    from registry import services as registry_services

    registry_services.grant_delegate(agent, board, actor=owner)
    evidence = services.submit_evidence(agent, "scope", actor=board, kind="statement", statement="Mine")
    # when
    response = api_for(board).post(f"/api/v1/evidence/{evidence.pk}/accept/", {}, format="json")
    # then
    assert response.status_code == 403
    evidence.refresh_from_db()
    assert evidence.status == "submitted"


def test_the_second_decision_on_a_review_gets_409_and_changes_nothing(agent, version, api_for, owner, board, board2):
    # given
    review = services.request_release_review(agent, version, "production", actor=owner)
    first = api_for(board).post(
        f"/api/v1/reviews/{review.pk}/decide/", {"decision": "approve", "reason": "ok"}, format="json"
    )
    # when
    second = api_for(board2).post(
        f"/api/v1/reviews/{review.pk}/decide/", {"decision": "reject", "reason": "no"}, format="json"
    )
    # then
    assert first.status_code == 200
    assert first.json()["decision"] == "approve"
    assert second.status_code == 409
    assert "already decided" in second.json()["detail"]
    assert Review.objects.get(pk=review.pk).decision == "approve"
    assert AuditEvent.objects.filter(event_type="review.decided").count() == 1


def test_a_release_review_names_a_version_of_that_agent(agent, version, make_agent, api_for, owner):
    other = make_agent("fin.other-bot")
    response = api_for(owner).post(
        "/api/v1/reviews/", {"agent": other.key, "version": "1.0.0", "environment": "production"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"version": ["fin.other-bot has no version 1.0.0."]}


def test_deploying_through_the_api_is_refused_with_the_gate_list(agent, version, api_for, owner, board):
    review = services.request_release_review(agent, version, "production", actor=owner)
    services.decide_review(review, actor=board, decision="approve", reason="ok")
    release = Review.objects.get(pk=review.pk).release
    response = api_for(owner).post(f"/api/v1/releases/{release.pk}/deploy/", {}, format="json")
    assert response.status_code == 400
    assert "A risk assessment confirmed by the governance board." in response.json()["non_field_errors"]


def test_controls_list_the_catalog_in_force_with_framework_references(api_for, employee):
    response = api_for(employee).get("/api/v1/controls/", {"page_size": 100})
    rows = {r["code"]: r for r in response.json()["results"]}
    assert len(rows) == 29
    assert rows["fria"]["eu_ai_act_article"] == "Art. 27"
    assert rows["kill-switch"]["validity_days"] == 180
    assert rows["owner"]["validity"] == "system"
