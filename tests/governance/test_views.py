"""Governance pages: the owner's workspace, the board's queue, the compliance panel and file serving."""

import re
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from governance import services
from governance.models import Review
from registry.models import AuditEvent
from tests.governance.fixtures import ANSWERS


def test_what_i_owe_lists_each_gap_with_the_next_step(agent, client_for, owner, assess):
    assess(agent)
    response = client_for(owner).get(reverse("governance:owe"))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Leave assistant" in content
    assert "Least-privilege tool allowlist" in content
    assert "Submit evidence" in content


def test_the_board_queue_puts_higher_tiers_and_earlier_dates_first(make_agent, owner, board, client_for):
    # given: a low-tier assessment submitted before a critical one
    low = make_agent("hr.low-bot", autonomy_level=1, data_classification="public")
    critical = make_agent("fin.pay-bot", autonomy_level=5, data_classification="restricted")
    services.submit_assessment(
        low, actor=owner, **{**ANSWERS, "action_impact": "read_only", "people_affected": "under_100"}
    )
    services.submit_assessment(critical, actor=owner, **{**ANSWERS, "action_impact": "financial_legal"})
    # when
    content = client_for(board).get(reverse("governance:queue")).content.decode()
    # then
    assert content.index("Pay Bot") < content.index("Low Bot")


def test_a_one_click_decision_from_the_queue_is_audited(agent, owner, board, client_for):
    assessment = services.submit_assessment(agent, actor=owner, **ANSWERS)
    response = client_for(board).post(
        reverse("governance:assessment-decide", args=[assessment.pk]),
        {"action": "confirm", "next": reverse("governance:queue")},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("governance:queue")
    assessment.refresh_from_db()
    assert assessment.status == "confirmed"
    assert AuditEvent.objects.filter(event_type="assessment.confirmed", actor=board).count() == 1


def test_a_decision_never_redirects_off_site(agent, owner, board, client_for):
    assessment = services.submit_assessment(agent, actor=owner, **ANSWERS)
    response = client_for(board).post(
        reverse("governance:assessment-decide", args=[assessment.pk]),
        {"action": "confirm", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("governance:agent", args=[agent.key])


def test_the_second_decision_on_a_review_page_is_a_409_with_a_clear_message(
    agent, version, owner, board, board2, client_for
):
    review = services.request_release_review(agent, version, "production", actor=owner)
    services.decide_review(review, actor=board, decision="reject", reason="Missing evaluation")
    response = client_for(board2).post(
        reverse("governance:review", args=[review.pk]), {"decision": "approve", "reason": "looks fine"}
    )
    assert response.status_code == 409
    assert "already decided by Bea" in response.content.decode()
    assert Review.objects.get(pk=review.pk).decision == "reject"


def test_the_agent_page_shows_the_compliance_panel(agent, client_for, employee, assess):
    assess(agent)
    content = client_for(employee).get(reverse("registry:agent-detail", args=[agent.key])).content.decode()
    assert "Compliance" in content
    assert "tier medium" in content


def test_evidence_files_are_served_only_to_those_who_may_see_them(
    agent, owner, board, employee, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("scope.txt", b"scope text", content_type="text/plain")
    evidence = services.submit_evidence(agent, "scope", actor=owner, kind="file", file=upload)
    url = reverse("governance:evidence-file", args=[evidence.pk])
    response = client_for(board).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert client_for(employee).get(url).status_code == 404


def test_an_overdue_periodic_review_shows_on_the_owners_page(gate_ready, owner, client_for):
    Review.objects.filter(agent=gate_ready, kind="periodic").update(due_at=timezone.now() - timedelta(days=3))
    content = client_for(owner).get(reverse("governance:owe")).content.decode()
    assert "overdue" in content


def test_an_oversized_upload_on_the_page_shows_the_limit_next_to_the_field(
    agent, owner, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    settings.GOVERNANCE_EVIDENCE_MAX_BYTES = 10
    upload = SimpleUploadedFile("scope.txt", b"x" * 11, content_type="text/plain")
    response = client_for(owner).post(
        reverse("governance:evidence-submit", args=[agent.key, "scope"]), {"kind": "file", "file": upload}
    )
    assert response.status_code == 200
    assert "the limit is 10 bytes" in response.content.decode()


def test_the_controls_page_lists_tiers_in_order_with_singular_units(client_for, employee):
    # when
    html = client_for(employee).get(reverse("governance:controls")).content.decode()
    # then: low, medium, high, critical, and the critical tier's one hour said as such
    assert re.findall(r'data-tier="(\w+)"', html) == ["low", "medium", "high", "critical"]
    critical = html.split('data-tier="critical"')[1].split("</tr>")[0]
    assert "1 hour<" in critical
    assert "1 hours" not in html
    assert "2 hours" in critical
