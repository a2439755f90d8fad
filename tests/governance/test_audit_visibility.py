"""Audit entries follow the rule of the object they describe: the agent's history on its page and in the
API never shows what the object's own page and API would refuse (evidence links, file names, hashes)."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from governance import services
from registry.models import AuditEvent

SECRET_LINK = "https://vault.example.com/pen-test?sig=evidence-signature-123"


@pytest.fixture
def governed_history(agent, owner, board, version):
    """An agent with evidence (a link and a file), a review, an incident and a waiver, each audited."""
    link = services.submit_evidence(
        agent, "scope", actor=owner, kind="link", url=SECRET_LINK, summary="Summary of the pen test"
    )
    services.accept_evidence(link, actor=board, reason="Fine")
    upload = SimpleUploadedFile("contract-acme.pdf", b"%PDF-1.4 contract", content_type="application/pdf")
    services.submit_evidence(agent, "kill-switch", actor=owner, kind="file", file=upload)
    services.request_release_review(agent, version, "production", actor=owner)
    services.report_incident(agent, actor=owner, title="Wrong refund", severity="low", what_happened="Refunded twice.")
    until = timezone.now() + timedelta(days=20)
    services.grant_waiver(agent, "kill-switch", actor=board, reason="Drill booked next week", expires_at=until)
    return agent


@pytest.mark.parametrize("persona", ["owner", "delegate", "employee", "outsider", "board", "leadership", "admin"])
def test_an_audit_entry_is_visible_exactly_when_its_object_is(governed_history, persona, request):
    # given
    user = request.getfixturevalue(persona)
    events = AuditEvent.objects.filter(agent=governed_history).exclude(target_type="registry.agent")
    kinds = set(events.values_list("target_type", flat=True))
    assert {"governance.evidence", "governance.review", "governance.incident", "governance.waiver"} <= kinds
    # when
    visible = set(AuditEvent.objects.for_user(user).filter(agent=governed_history).values_list("seq", flat=True))
    # then
    for event in events:
        model = apps.get_model(event.target_type)
        object_visible = model.objects.for_user(user, "view").filter(pk=event.target_id).exists()
        assert (event.seq in visible) == object_visible, f"{persona}: {event}"


def test_an_employee_reads_the_agent_history_without_its_evidence(governed_history, employee, api_for, client_for):
    # when
    api = api_for(employee).get(reverse("api:agent-history", kwargs={"key": governed_history.key}))
    page = client_for(employee).get(reverse("registry:agent-detail", kwargs={"key": governed_history.key}))
    # then
    assert api.status_code == page.status_code == 200
    types = {row["event_type"] for row in api.json()["results"]}
    assert "incident.reported" in types
    assert "waiver.granted" in types
    assert not any(t.startswith("evidence.") for t in types)
    for body in (api.content.decode(), page.content.decode()):
        for leaked in ("evidence-signature-123", "contract-acme.pdf", "Summary of the pen test"):
            assert leaked not in body


def test_the_owner_reads_the_evidence_entries_in_the_history(governed_history, owner, api_for):
    response = api_for(owner).get(reverse("api:agent-history", kwargs={"key": governed_history.key}))
    rows = response.json()["results"]
    submitted = [r for r in rows if r["event_type"] == "evidence.submitted"]
    assert {r["after"].get("file_name") for r in submitted} >= {"contract-acme.pdf"}
    assert SECRET_LINK in response.content.decode()


def test_leadership_reads_the_whole_trail_with_evidence(governed_history, leadership):
    # leadership holds the global evidence view permission but not the global audit one
    visible = AuditEvent.objects.for_user(leadership).filter(event_type="evidence.submitted")
    assert visible.count() == 2
