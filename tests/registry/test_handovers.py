"""Deprovisioning and handovers through the services and the handovers page."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from governance.choices import FindingKind
from governance.models import Finding
from registry import services
from registry.choices import HandoverBasis, HandoverStatus
from registry.models import AuditEvent, DirectoryEntry, HandoverProposal
from tests.factories import UserFactory


@pytest.fixture
def leaver(unit, employee):
    """A provisioned person whose directory manager is ``employee``."""
    manager_entry = DirectoryEntry.objects.create(user=employee)
    person = UserFactory(username="lee.leaver", business_unit=unit)
    DirectoryEntry.objects.create(user=person, manager_scim_id=str(manager_entry.scim_id))
    return person


def _agents(make_agent, leaver, count):
    return [make_agent(f"hr.agent-{i}", agent_owner=leaver, actor=leaver) for i in range(count)]


def test_deprovisioning_queries_do_not_grow_with_the_number_of_agents(
    make_agent, leaver, owner, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # given two owners, one of 2 agents and one of 12, each a delegate somewhere
    _agents(make_agent, leaver, 2)
    other = UserFactory(username="max.many", business_unit=leaver.business_unit)
    DirectoryEntry.objects.create(user=other, manager_scim_id=leaver.directory.manager_scim_id)
    for i in range(12):
        make_agent(f"hr.many-{i}", agent_owner=other, actor=other)

    # when both are deprovisioned, then the second costs no more queries than the first
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        services.deprovision_user(leaver)
    with CaptureQueriesContext(connection) as large:
        services.deprovision_user(other)

    assert len(large.captured_queries) == len(small.captured_queries)
    assert HandoverProposal.objects.filter(status=HandoverStatus.PENDING).count() == 14
    assert Finding.objects.filter(kind=FindingKind.ORPHANED_OWNER, resolved_at__isnull=True).count() == 14


def test_each_agent_gets_a_proposal_to_the_manager_and_an_audit_entry(make_agent, leaver, employee):
    agents = _agents(make_agent, leaver, 3)

    proposals = services.deprovision_user(leaver)

    assert {(p.agent_id, p.proposed_to_id, p.basis) for p in proposals} == {
        (a.pk, employee.pk, HandoverBasis.MANAGER) for a in agents
    }
    for agent in agents:
        entry = AuditEvent.objects.get(event_type="handover.proposed", agent=agent)
        assert entry.after["from_owner_name"] == str(leaver)
    # the audit chain still verifies after the bulk append
    from registry import audit

    assert audit.verify_chain().ok


def test_the_proposed_person_accepts_and_becomes_owner(make_agent, leaver, employee):
    agent = _agents(make_agent, leaver, 1)[0]
    proposal = services.deprovision_user(leaver)[0]

    services.accept_handover(proposal, actor=employee)

    agent.refresh_from_db()
    assert agent.owner == employee
    assert services.can_manage_agent(employee, agent)
    # the finding clears at the next sweep
    from governance.checks import run_check

    run_check(FindingKind.ORPHANED_OWNER)
    assert not Finding.objects.filter(agent=agent, kind=FindingKind.ORPHANED_OWNER, resolved_at__isnull=True).exists()


def test_only_the_proposed_person_may_answer(make_agent, leaver, outsider):
    _agents(make_agent, leaver, 1)
    proposal = services.deprovision_user(leaver)[0]

    with pytest.raises(PermissionDenied):
        services.accept_handover(proposal, actor=outsider)


def test_declined_then_board_reassigns_and_the_new_person_accepts(make_agent, leaver, employee, board, outsider):
    agent = _agents(make_agent, leaver, 1)[0]
    proposal = services.deprovision_user(leaver)[0]

    services.decline_handover(proposal, actor=employee, note="Not my area")
    fresh = services.reassign_handover(proposal, outsider, actor=board)
    services.accept_handover(fresh, actor=outsider)

    agent.refresh_from_db()
    assert agent.owner == outsider
    assert fresh.basis == HandoverBasis.BOARD
    with pytest.raises(ValidationError):
        services.reassign_handover(proposal, employee, actor=board)


def test_without_manager_or_head_the_board_must_choose(make_agent, unit):
    lone = UserFactory(username="lone", business_unit=unit)
    make_agent("hr.lone", agent_owner=lone, actor=lone)

    proposal = services.deprovision_user(lone)[0]

    assert proposal.proposed_to is None
    assert proposal.basis == HandoverBasis.NONE


def test_handovers_page_lets_the_proposed_person_accept(make_agent, leaver, employee, client_for):
    agent = _agents(make_agent, leaver, 1)[0]
    proposal = services.deprovision_user(leaver)[0]
    client = client_for(employee)

    page = client.get("/handovers/")
    assert agent.name in page.content.decode()
    response = client.post("/handovers/", {"proposal": proposal.pk, "action": "accept"})

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.owner == employee


def test_someone_else_cannot_see_or_answer_a_proposal(make_agent, leaver, outsider, client_for):
    _agents(make_agent, leaver, 1)
    proposal = services.deprovision_user(leaver)[0]

    response = client_for(outsider).post("/handovers/", {"proposal": proposal.pk, "action": "accept"})

    assert response.status_code == 404


def test_the_board_reassigns_from_the_page(make_agent, leaver, board, outsider, client_for):
    agent = _agents(make_agent, leaver, 1)[0]
    proposal = services.deprovision_user(leaver)[0]
    client = client_for(board)

    assert agent.name in client.get("/handovers/").content.decode()
    client.post("/handovers/", {"proposal": proposal.pk, "action": "reassign", "proposed_to": outsider.pk})

    assert HandoverProposal.objects.get(status=HandoverStatus.PENDING).proposed_to == outsider


def test_the_agent_page_says_the_owner_left(make_agent, leaver, board, client_for):
    agent = _agents(make_agent, leaver, 1)[0]
    services.deprovision_user(leaver)

    page = client_for(board).get(f"/agents/{agent.key}/").content.decode()

    assert "has left" in page


def test_the_api_lists_my_proposals_and_accepts_one(make_agent, leaver, employee, outsider, api_for):
    agent = _agents(make_agent, leaver, 1)[0]
    proposal = services.deprovision_user(leaver)[0]

    mine = api_for(employee).get("/api/v1/handovers/", {"status": "pending"}).json()
    theirs = api_for(outsider).get("/api/v1/handovers/").json()
    accepted = api_for(employee).post(f"/api/v1/handovers/{proposal.pk}/accept/", {}, format="json")

    assert [row["agent"] for row in mine["results"]] == [agent.key]
    assert theirs["results"] == []
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"


def test_the_api_refuses_a_bad_reassignment_with_a_field_error(make_agent, leaver, board, api_for):
    _agents(make_agent, leaver, 1)
    proposal = services.deprovision_user(leaver)[0]

    response = api_for(board).post(
        f"/api/v1/handovers/{proposal.pk}/reassign/", {"proposed_to": "nobody"}, format="json"
    )

    assert response.status_code == 400
    assert "proposed_to" in response.json()


def test_the_proposed_people_get_one_mail_after_commit(
    make_agent, leaver, employee, django_capture_on_commit_callbacks
):
    from django.core import mail

    employee.email = "erin@example.com"
    employee.save()
    _agents(make_agent, leaver, 3)

    with django_capture_on_commit_callbacks(execute=True):
        services.deprovision_user(leaver)

    assert [m.to for m in mail.outbox] == [["erin@example.com"]]
    assert "proposed to you" in mail.outbox[0].subject


def test_a_mail_server_that_refuses_leaves_the_proposals_standing(
    make_agent, leaver, employee, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    from django.core.mail.backends.locmem import EmailBackend

    def refuse(self, messages):
        raise ConnectionRefusedError("mail server away")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    employee.email = "erin@example.com"
    employee.save()
    _agents(make_agent, leaver, 2)

    with django_capture_on_commit_callbacks(execute=True):
        services.deprovision_user(leaver)  # does not raise

    assert HandoverProposal.objects.filter(proposed_to=employee).count() == 2
    assert "could not send" in caplog.text
    assert "erin@example.com" in caplog.text


def test_an_administrator_maps_a_group_to_a_role_in_the_admin(admin, employee, client_for):
    from registry.models import DirectoryGroup, GroupRoleMapping
    from registry.roles import Role, role_names

    DirectoryEntry.objects.create(user=employee)
    group = DirectoryGroup.objects.create(display_name="Risk Board")
    group.members.add(employee)

    response = client_for(admin).post(
        "/admin/registry/grouprolemapping/add/", {"group_name": "risk board", "role": Role.BOARD}
    )

    assert response.status_code == 302
    assert GroupRoleMapping.objects.get().role == Role.BOARD
    employee.refresh_from_db()
    assert role_names(employee) == {Role.BOARD}
    assert AuditEvent.objects.filter(event_type="directory.group_role_mapped").exists()


def test_a_declined_handover_waits_in_the_board_queue(make_agent, leaver, employee, board, client_for):
    agent = _agents(make_agent, leaver, 1)[0]
    proposal = services.deprovision_user(leaver)[0]
    client = client_for(board)
    assert agent.name not in client.get("/governance/queue/").content.decode()

    services.decline_handover(proposal, actor=employee)

    page = client.get("/governance/queue/").content.decode()
    assert f"Reassign {agent.name} on the Handovers page" in page
