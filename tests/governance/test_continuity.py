"""Attestation campaigns (frozen time: reminders once each, grace, enforcement) and dormant agents."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from governance.checks import run_check
from governance.choices import AttestationAnswer, Enforcement, FindingKind
from governance.models import Attestation, AttestationReminder, Finding
from governance.services import continuity
from registry.choices import Lifecycle
from registry.models import Agent, AuditEvent, Stop
from telemetry.models import MonitoringState

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def set_state(agent, **fields):
    Agent.objects.filter(pk=agent.pk).update(**fields)
    agent.refresh_from_db()
    return agent


@pytest.fixture
def fleet(clock, make_agent, owner, employee):
    """Three agents of the owner (one in production), one of employee's, one retired."""
    agents = [make_agent(f"hr.fleet-{i}") for i in range(3)]
    set_state(agents[0], lifecycle=Lifecycle.PRODUCTION, risk_tier="high", lifecycle_changed_at=T0)
    other = make_agent("hr.erins", agent_owner=employee, actor=employee)
    gone = make_agent("hr.gone")
    set_state(gone, lifecycle=Lifecycle.RETIRED)
    return agents, other


def open_campaign(board, **kwargs):
    defaults = {"name": "Spring attestation", "deadline": T0 + timedelta(days=21)}
    return continuity.open_campaign(actor=board, **(defaults | kwargs))


def test_opening_a_campaign_makes_one_row_per_agent_in_scope(fleet, board, owner, employee):
    campaign = open_campaign(board)

    rows = Attestation.objects.filter(campaign=campaign)
    assert rows.count() == 4  # the retired agent is out of scope
    assert set(rows.values_list("owner__username", flat=True)) == {owner.username, employee.username}
    assert AuditEvent.objects.get(event_type="campaign.opened").after["agents"] == 4


def test_scope_narrows_by_tier_and_lifecycle(fleet, board):
    by_tier = open_campaign(board, tiers=["high"])
    by_state = open_campaign(board, name="Proposed only", lifecycles=["proposed"])

    assert Attestation.objects.filter(campaign=by_tier).count() == 1
    assert Attestation.objects.filter(campaign=by_state).count() == 3


def test_only_the_board_opens_campaigns_and_bad_input_is_a_field_error(fleet, owner, board):
    with pytest.raises(PermissionDenied):
        open_campaign(owner)
    with pytest.raises(ValidationError) as bad:
        open_campaign(board, deadline=T0 - timedelta(days=1))
    assert "deadline" in bad.value.message_dict


def test_opening_costs_the_same_queries_for_few_or_many_agents(clock, make_agent, board, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_agent("hr.one")
    open_campaign(board, name="warm-up")  # reads the board's roles once; cached from then on
    with CaptureQueriesContext(connection) as small:
        open_campaign(board, name="small")
    for i in range(15):
        make_agent(f"hr.more-{i}")
    with CaptureQueriesContext(connection) as large:
        open_campaign(board, name="large")

    assert len(large.captured_queries) == len(small.captured_queries)


def test_confirm_all_unchanged_stores_a_snapshot_per_agent(fleet, board, owner):
    campaign = open_campaign(board)
    mine = list(Attestation.objects.filter(campaign=campaign, owner=owner))

    continuity.answer_attestations(mine, AttestationAnswer.UNCHANGED, actor=owner)

    for row in Attestation.objects.filter(campaign=campaign, owner=owner):
        assert row.answer == AttestationAnswer.UNCHANGED
        assert row.answered_by == owner
        assert row.snapshot["owner_id"] == owner.pk
        assert row.snapshot["data_classification"] == "internal"
        assert row.snapshot["tools"] == []
    assert AuditEvent.objects.filter(event_type="attestation.answered").count() == 3


def test_someone_else_cannot_answer_for_an_owner(fleet, board, employee, owner):
    campaign = open_campaign(board)
    mine = list(Attestation.objects.filter(campaign=campaign, owner=owner))

    with pytest.raises(PermissionDenied):
        continuity.answer_attestations(mine, AttestationAnswer.UNCHANGED, actor=employee)


def test_retire_answer_retires_the_agent_and_revokes_delegates(fleet, board, owner, delegate):
    from registry import services

    agents, _ = fleet
    services.grant_delegate(agents[1], delegate, actor=owner)
    campaign = open_campaign(board)
    row = Attestation.objects.get(campaign=campaign, agent=agents[1])

    continuity.answer_attestations([row], AttestationAnswer.RETIRE, actor=owner)

    agents[1].refresh_from_db()
    assert agents[1].lifecycle == Lifecycle.RETIRED
    assert not agents[1].delegations.exists()


def test_reminders_go_once_each_at_seven_days_and_one_day(fleet, board, owner, employee, clock):
    campaign = open_campaign(board)
    row = Attestation.objects.get(campaign=campaign, owner=employee)
    continuity.answer_attestations([row], AttestationAnswer.UNCHANGED, actor=employee)

    # nothing before the first offset
    clock.move_to(T0 + timedelta(days=13))
    assert continuity.send_campaign_reminders() == 0

    # at 7 days before: the owner who has not answered, once
    clock.move_to(T0 + timedelta(days=14, hours=1))
    assert continuity.send_campaign_reminders() == 1
    assert continuity.send_campaign_reminders() == 0
    clock.move_to(T0 + timedelta(days=18))
    assert continuity.send_campaign_reminders() == 0

    # at 1 day before: once more
    clock.move_to(T0 + timedelta(days=20, hours=1))
    assert continuity.send_campaign_reminders() == 1
    assert continuity.send_campaign_reminders() == 0
    assert list(AttestationReminder.objects.values_list("owner__username", "days_before")) == [
        (owner.username, 1),
        (owner.username, 7),
    ]


def test_reminder_mail_is_sent_after_commit(fleet, board, owner, clock, django_capture_on_commit_callbacks):
    open_campaign(board)
    owner.email = "olivia@example.com"
    owner.save()
    clock.move_to(T0 + timedelta(days=15))

    with django_capture_on_commit_callbacks(execute=True):
        continuity.send_campaign_reminders()

    assert ["olivia@example.com"] in [m.to for m in mail.outbox]


def test_after_the_grace_period_a_finding_opens_once_and_the_running_agent_is_stopped(fleet, board, owner, clock):
    agents, other = fleet
    campaign = open_campaign(board, enforcement=Enforcement.STOP)
    # the employee answers; the owner does not
    continuity.answer_attestations(
        list(Attestation.objects.filter(campaign=campaign, agent=other)),
        AttestationAnswer.UNCHANGED,
        actor=other.owner,
    )

    # past the deadline but within grace: nothing
    clock.move_to(T0 + timedelta(days=30))
    assert continuity.enforce_overdue_attestations() == 0
    run_check(FindingKind.ATTESTATION_OVERDUE)
    assert not Finding.objects.open().filter(kind=FindingKind.ATTESTATION_OVERDUE).exists()

    # after deadline + 14 days: the owner's three agents get the finding; the production one is stopped
    clock.move_to(T0 + timedelta(days=36))
    assert continuity.enforce_overdue_attestations() == 3
    assert continuity.enforce_overdue_attestations() == 0
    assert set(
        Finding.objects.open().filter(kind=FindingKind.ATTESTATION_OVERDUE).values_list("agent__key", flat=True)
    ) == {a.key for a in agents}
    agents[0].refresh_from_db()
    [stop] = Stop.objects.in_force().filter(agent=agents[0])
    assert stop.started_by is None
    assert "did not answer the campaign" in stop.reason
    assert agents[0].lifecycle == Lifecycle.PRODUCTION  # a stop, not a lifecycle change
    assert AuditEvent.objects.filter(event_type="attestation.enforced").count() == 3
    assert AuditEvent.objects.filter(event_type="stop.started", actor__isnull=True).count() == 1


def test_enforcement_none_raises_no_finding(fleet, board, clock):
    open_campaign(board, enforcement=Enforcement.NONE)
    clock.move_to(T0 + timedelta(days=40))

    continuity.enforce_overdue_attestations()
    run_check(FindingKind.ATTESTATION_OVERDUE)

    assert not Finding.objects.open().filter(kind=FindingKind.ATTESTATION_OVERDUE).exists()


def test_answering_late_clears_the_finding(fleet, board, owner, clock):
    agents, other = fleet
    campaign = open_campaign(board)
    clock.move_to(T0 + timedelta(days=40))
    continuity.enforce_overdue_attestations()
    assert Finding.objects.open().filter(kind=FindingKind.ATTESTATION_OVERDUE).count() == 4

    continuity.answer_attestations(
        list(Attestation.objects.filter(campaign=campaign, owner=owner)), AttestationAnswer.UNCHANGED, actor=owner
    )
    run_check(FindingKind.ATTESTATION_OVERDUE)

    # the owner's three clear; the colleague who still has not answered keeps theirs
    assert [f.agent for f in Finding.objects.open().filter(kind=FindingKind.ATTESTATION_OVERDUE)] == [other]


# --- the pages --------------------------------------------------------------------------------------


def test_owner_confirms_all_on_one_page(fleet, board, owner, client_for):
    open_campaign(board)
    client = client_for(owner)

    page = client.get("/governance/attestations/").content.decode()
    assert "Confirm all 3 unchanged" in page
    campaign_id = Attestation.objects.filter(owner=owner).first().campaign_id
    client.post("/governance/attestations/", {"all": campaign_id, "answer": "unchanged"})

    assert not Attestation.objects.filter(owner=owner, answer=AttestationAnswer.PENDING).exists()


def test_changed_opens_the_edit_page(fleet, board, owner, client_for):
    campaign = open_campaign(board)
    row = Attestation.objects.filter(campaign=campaign, owner=owner).first()

    response = client_for(owner).post("/governance/attestations/", {"attestation": row.pk, "answer": "changed"})

    assert response.status_code == 302
    assert response["Location"] == f"/agents/{row.agent.key}/edit/"


def test_progress_page_and_csv_of_who_has_not_answered(fleet, board, owner, employee, client_for, clock):
    campaign = open_campaign(board)
    continuity.answer_attestations(
        list(Attestation.objects.filter(campaign=campaign, owner=employee)), AttestationAnswer.UNCHANGED, actor=employee
    )
    client = client_for(board)

    page = client.get(f"/governance/campaigns/{campaign.pk}/").content.decode()
    csv_text = b"".join(client.get(f"/governance/campaigns/{campaign.pk}/not-answered.csv").streaming_content).decode()

    assert "Not answered (3)" in page
    lines = csv_text.strip().splitlines()
    assert lines[0] == "agent_key,agent_name,unit,owner,owner_email"
    assert len(lines) == 4
    assert all(owner.username in line for line in lines[1:])


def test_the_board_opens_a_campaign_from_the_page(fleet, board, client_for):
    response = client_for(board).post(
        "/governance/campaigns/",
        {
            "name": "Q2",
            "items": ["owner", "still_needed"],
            "deadline": "2026-04-01T09:00",
            "reminder_days": "7, 1",
            "grace_days": 14,
            "enforcement": "finding",
        },
    )

    assert response.status_code == 302
    assert Attestation.objects.count() == 4


def test_owners_do_not_see_campaign_pages(fleet, board, owner, client_for):
    campaign = open_campaign(board)

    assert client_for(owner).get("/governance/campaigns/").status_code == 403
    assert client_for(owner).get(f"/governance/campaigns/{campaign.pk}/").status_code == 404


# --- dormant agents ---------------------------------------------------------------------------------


def test_a_silent_running_agent_becomes_dormant_by_tier(clock, make_agent):
    critical = set_state(make_agent("hr.critical"), lifecycle=Lifecycle.PRODUCTION, risk_tier="critical")
    low = set_state(make_agent("hr.low"), lifecycle=Lifecycle.PILOT, risk_tier="low")
    proposed = make_agent("hr.proposed")
    for agent in (critical, low):
        set_state(agent, lifecycle_changed_at=T0 - timedelta(days=200))
        MonitoringState.objects.update_or_create(agent=agent, defaults={"last_seen_at": T0 - timedelta(days=31)})

    run_check(FindingKind.DORMANT_AGENT)

    # 31 days: past critical's 30, within low's 90; a proposed agent is never dormant
    assert [f.agent for f in Finding.objects.open().filter(kind=FindingKind.DORMANT_AGENT)] == [critical]
    assert proposed


def test_an_agent_that_never_reported_is_left_to_lapsed_monitoring(clock, make_agent):
    agent = set_state(
        make_agent("hr.never"), lifecycle=Lifecycle.PILOT, risk_tier="high", lifecycle_changed_at=T0 - timedelta(99)
    )

    run_check(FindingKind.DORMANT_AGENT)

    assert not Finding.objects.open().filter(kind=FindingKind.DORMANT_AGENT, agent=agent).exists()


def test_the_policy_can_change_the_window(clock, make_agent, admin):
    from governance.models import RiskPolicy

    policy = RiskPolicy.objects.current()
    cadences = policy.cadences
    cadences["critical"]["dormant_days"] = 10
    RiskPolicy.objects.filter(pk=policy.pk).update(cadences=cadences)
    agent = set_state(
        make_agent("hr.crit"), lifecycle=Lifecycle.PRODUCTION, risk_tier="critical", lifecycle_changed_at=T0
    )
    MonitoringState.objects.update_or_create(agent=agent, defaults={"last_seen_at": T0 - timedelta(days=11)})

    run_check(FindingKind.DORMANT_AGENT)

    assert Finding.objects.open().filter(kind=FindingKind.DORMANT_AGENT, agent=agent).exists()


def test_keep_with_a_reason_resolves_the_finding_and_retire_in_one_click(clock, make_agent, owner, client_for):
    kept = set_state(make_agent("hr.kept"), lifecycle=Lifecycle.PRODUCTION, lifecycle_changed_at=T0 - timedelta(99))
    retired = set_state(make_agent("hr.quiet"), lifecycle=Lifecycle.PILOT, lifecycle_changed_at=T0 - timedelta(99))
    for agent in (kept, retired):
        MonitoringState.objects.update_or_create(agent=agent, defaults={"last_seen_at": T0 - timedelta(days=95)})
    run_check(FindingKind.DORMANT_AGENT)
    client = client_for(owner)
    assert "Dormant: retire or keep" in client.get(f"/agents/{kept.key}/").content.decode()

    # a keep without a reason is a form error
    response = client.post(f"/governance/agents/{kept.key}/dormant/", {"action": "keep", "reason": ""})
    assert response.status_code == 200
    assert "Say why" in response.content.decode()
    client.post(f"/governance/agents/{kept.key}/dormant/", {"action": "keep", "reason": "Year-end only"})
    client.post(f"/governance/agents/{retired.key}/dormant/", {"action": "retire"})

    retired.refresh_from_db()
    assert retired.lifecycle == Lifecycle.RETIRED
    assert not Finding.objects.open().filter(kind=FindingKind.DORMANT_AGENT).exists()
    assert AuditEvent.objects.filter(event_type="dormant.kept", agent=kept).exists()
    # the history stays
    assert AuditEvent.objects.filter(agent=retired, event_type="agent.created").exists()


def test_others_cannot_retire_a_dormant_agent(clock, make_agent, employee, client_for):
    agent = set_state(make_agent("hr.quiet"), lifecycle=Lifecycle.PILOT, lifecycle_changed_at=T0 - timedelta(99))

    assert (
        client_for(employee).post(f"/governance/agents/{agent.key}/dormant/", {"action": "retire"}).status_code == 403
    )


def test_the_beat_tasks_wrap_the_services(fleet, board, clock):
    from django.conf import settings

    from governance import tasks

    open_campaign(board, enforcement=Enforcement.FINDING)
    clock.move_to(T0 + timedelta(days=15))
    assert tasks.send_attestation_reminders() == {"sent": 2}
    clock.move_to(T0 + timedelta(days=36))
    assert tasks.enforce_attestations() == {"enforced": 4}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"governance.send_attestation_reminders", "governance.enforce_attestations"} <= scheduled


def test_the_api_opens_a_campaign_and_an_owner_answers(fleet, board, owner, api_for):
    created = api_for(board).post(
        "/api/v1/attestation-campaigns/",
        {"name": "API campaign", "deadline": (T0 + timedelta(days=21)).isoformat(), "tiers": ["high"]},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["agents"] == 1

    rows = api_for(owner).get("/api/v1/attestations/", {"answer": "pending"}).json()["results"]
    answered = api_for(owner).post(f"/api/v1/attestations/{rows[0]['id']}/answer/", {"answer": "unchanged"})

    assert answered.status_code == 200
    assert answered.json()["snapshot"]["owner_id"] == owner.pk
    assert answered.json()["answer"] == "unchanged"


def test_the_api_refuses_a_past_deadline_with_a_field_error(fleet, board, api_for):
    response = api_for(board).post(
        "/api/v1/attestation-campaigns/", {"name": "Late", "deadline": (T0 - timedelta(days=1)).isoformat()}
    )

    assert response.status_code == 400
    assert "deadline" in response.json()
