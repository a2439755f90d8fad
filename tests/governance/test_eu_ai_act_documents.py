"""FRIA as evidence (Art. 27) and the Annex IV technical file: prefilled from the record, filed for the
board's review, read back from the PDF with every section on the page, evidence withheld where due."""

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from governance import compliance, documents, services
from governance.choices import ControlState
from governance.models import Evidence, FundamentalRightsAssessment
from registry import services as registry_services
from registry.models import AuditEvent
from tests.governance.test_serious_incidents import pdf_text_and_positions

ANSWERS = {
    "process_and_purpose": "Screens job applications for the recruiting team.",
    "period_and_frequency": "Every working day, all year.",
    "people_affected": "Applicants, including minors applying for apprenticeships.",
    "risks_of_harm": "Unfair rejection on protected grounds.",
    "oversight_measures": "A recruiter reviews every rejection before it is sent.",
    "materialisation_measures": "Complaints go to HR within a day; the agent is suspended.",
}


@pytest.fixture
def high_risk_agent(agent, owner, assess):
    registry_services.update_agent(
        agent,
        actor=owner,
        objective="Pre-screen job applications",
        forbidden_actions="Never reject an applicant without a recruiter",
        escalation_contact="recruiting-lead@example.com",
        escalation_procedure="Page the recruiting lead; stop the agent from the registry.",
    )
    assess(agent, eu_ai_act_category="high_risk", eu_ai_act_reason="Annex III 4(a): recruitment.")
    agent.refresh_from_db()
    return agent


def fria_state(agent):
    return next(s for s in compliance.checklist(agent, now=timezone.now()) if s.code == "fria").state


@pytest.mark.django_db
def test_the_form_is_prefilled_from_the_record(high_risk_agent, owner, client_for):
    services.submit_evidence(
        high_risk_agent, "human-oversight", actor=owner, kind="statement", statement="x", summary="Recruiter sign-off"
    )
    draft = documents.fria_prefill(high_risk_agent, owner)
    assert "Pre-screen job applications" in draft["process_and_purpose"]
    assert "Never reject an applicant without a recruiter" in draft["risks_of_harm"]
    assert "Internal" in draft["risks_of_harm"]  # data classification
    assert "recruiting-lead@example.com" in draft["oversight_measures"]
    assert "Recruiter sign-off" in draft["oversight_measures"]  # oversight evidence
    assert "Page the recruiting lead" in draft["materialisation_measures"]
    page = client_for(owner).get(reverse("governance:fria-submit", args=[high_risk_agent.key]))
    assert "Pre-screen job applications" in page.content.decode()


@pytest.mark.django_db
def test_submitting_files_the_fria_as_evidence_for_the_board(high_risk_agent, owner, board):
    # given the fria control is missing
    assert fria_state(high_risk_agent) == ControlState.MISSING
    # when the owner submits the assessment
    fria = services.submit_fria(high_risk_agent, actor=owner, **ANSWERS)
    # then its PDF is evidence for fria, awaiting the board
    evidence = fria.evidence
    assert evidence.control_code == "fria"
    assert evidence.content_type == "application/pdf"
    assert fria_state(high_risk_agent) == ControlState.SUBMITTED
    assert AuditEvent.objects.filter(event_type="fria.submitted").count() == 1
    assert AuditEvent.objects.filter(event_type="evidence.submitted", target_id=str(evidence.pk)).exists()
    text, outside = pdf_text_and_positions(evidence.file.read())
    for _, label in documents.FRIA_QUESTIONS:
        assert label.split(" (")[0] in text
    assert "Unfair rejection on protected grounds." in text
    assert outside == []
    # and the board's acceptance covers the control
    services.accept_evidence(evidence, actor=board)
    assert fria_state(high_risk_agent) == ControlState.ACCEPTED


@pytest.mark.django_db
def test_a_fria_is_refused_where_art_27_does_not_apply_or_answers_are_missing(
    agent, high_risk_agent, owner, employee, make_agent, assess
):
    with pytest.raises(ValidationError) as exc:
        services.submit_fria(high_risk_agent, actor=owner, **{**ANSWERS, "risks_of_harm": "  "})
    assert "risks_of_harm" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.submit_fria(high_risk_agent, actor=employee, **ANSWERS)
    minimal = make_agent("hr.faq")
    assess(minimal)
    with pytest.raises(ValidationError) as exc:
        services.submit_fria(minimal, actor=owner, **ANSWERS)
    assert "not classified high-risk" in exc.value.messages[0]
    assert FundamentalRightsAssessment.objects.count() == 0
    assert not Evidence.objects.filter(control_code="fria").exists()


@pytest.mark.django_db
def test_the_api_submits_a_fria_and_refuses_bad_input_on_the_field(high_risk_agent, owner, api_for):
    api = api_for(owner)
    url = reverse("api:fundamentalrightsassessment-list")
    bad = api.post(url, {"agent": high_risk_agent.key, **ANSWERS, "people_affected": ""}, format="json")
    assert bad.status_code == 400
    assert "people_affected" in bad.json()
    response = api.post(url, {"agent": high_risk_agent.key, **ANSWERS}, format="json")
    assert response.status_code == 201
    assert response.json()["evidence_status"] == "submitted"
    pdf = api.get(reverse("api:fundamentalrightsassessment-pdf", args=[response.json()["id"]]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"


@pytest.mark.django_db
def test_the_technical_file_has_every_section_with_its_source_and_gaps(
    high_risk_agent, owner, board, client_for, version
):
    services.submit_evidence(
        high_risk_agent, "human-oversight", actor=owner, kind="statement", statement="x", summary="Recruiter sign-off"
    )
    services.report_incident(
        high_risk_agent, actor=owner, title="Biased shortlist", severity="high", what_happened="Skewed by age."
    )
    response = client_for(board).get(reverse("governance:technical-file", args=[high_risk_agent.key, "pdf"]))
    assert response.status_code == 200
    text, outside = pdf_text_and_positions(response.content)
    for title in documents.TECHNICAL_FILE_SECTIONS:
        assert title in text
    assert text.count("Source:") == len(documents.TECHNICAL_FILE_SECTIONS)
    assert "Biased shortlist" in text
    assert "Recruiter sign-off" in text
    assert "No telemetry received from this agent." in text  # a gap, listed
    assert "prompt version not recorded" in text
    assert "applies from 02 Dec 2027" in text  # the obligations that reach a high-risk agent
    assert outside == []
    assert len(PdfReader(io.BytesIO(response.content)).pages) >= 2


@pytest.mark.django_db
def test_the_technical_file_withholds_evidence_from_readers_without_access(
    high_risk_agent, owner, employee, client_for
):
    services.submit_evidence(
        high_risk_agent, "human-oversight", actor=owner, kind="statement", statement="x", summary="Recruiter sign-off"
    )
    as_owner = client_for(owner).get(reverse("governance:technical-file", args=[high_risk_agent.key, "md"]))
    as_employee = client_for(employee).get(reverse("governance:technical-file", args=[high_risk_agent.key, "md"]))
    owner_text, employee_text = as_owner.content.decode(), as_employee.content.decode()
    assert as_owner["Content-Type"].startswith("text/markdown")
    for title in documents.TECHNICAL_FILE_SECTIONS:
        assert f"## {title}" in employee_text
    assert "Recruiter sign-off" in owner_text
    assert "Recruiter sign-off" not in employee_text
    assert "withheld" in employee_text
