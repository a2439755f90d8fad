"""Every background check: raises its finding, stays single on re-run, resolves itself when cleared."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from governance import checks
from governance.choices import FindingKind
from governance.models import CheckRun, Finding, FindingEvent
from registry import services as registry_services
from registry.models import Agent
from telemetry import services as telemetry_services
from telemetry.identity import identify
from telemetry.ingest import Event, store_events
from telemetry.models import MonitoringState

T0 = "2026-03-02T12:00:00Z"


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def report(source, key, *, environment="production", when=None, name=None, service=None):
    store_events(
        source.pk,
        [
            Event(
                identity=identify(key, name, service),
                environment=environment,
                kind="heartbeat",
                occurred_at=when or timezone.now(),
            )
        ],
    )


def set_state(agent, **fields):
    Agent.objects.filter(pk=agent.pk).update(**fields)
    agent.refresh_from_db()
    return agent


def open_findings(kind):
    return list(Finding.objects.open().filter(kind=kind))


def run(kind):
    return checks.run_check(kind)


def assert_raises_once_and_resolves(kind, clear, *, cleared_at_once=False):
    # when the check runs twice
    first = run(kind)
    second = run(kind)
    # then one finding, opened once
    assert (first.found, second.found, second.resolved) == (1, 0, 0)
    [finding] = open_findings(kind)
    assert FindingEvent.objects.filter(finding=finding, kind="opened").count() == 1
    # when the condition clears
    clear()
    third = run(kind)
    # then it resolves itself, with the time
    assert third.resolved == (0 if cleared_at_once else 1)
    finding.refresh_from_db()
    assert finding.resolved_at == timezone.now()
    assert open_findings(kind) == []
    assert list(finding.events.values_list("kind", flat=True)) == ["opened", "resolved"]
    return finding


def test_shadow_agent(clock, source, make_agent):
    # given an identity nobody registered
    report(source, "finance.invoice-bot")
    # then it raises, stays single, and resolves once the agent is registered
    finding = assert_raises_once_and_resolves(
        FindingKind.SHADOW_AGENT, lambda: make_agent("finance.invoice-bot"), cleared_at_once=True
    )
    assert finding.identity == "finance.invoice-bot"
    assert finding.severity == "high"


def test_shadow_agent_resolves_when_marked_external_and_is_immediate_when_linked(clock, source, agent, board):
    report(source, None, name="Vendor bot", service="helpdesk", environment="staging")
    run(FindingKind.SHADOW_AGENT)
    [finding] = open_findings(FindingKind.SHADOW_AGENT)
    assert finding.identity == "Vendor bot@helpdesk"
    telemetry_services.mark_identity_external(
        "Vendor bot@helpdesk", actor=board, reason="Vendor's bot", expires_at=timezone.now() + timedelta(days=30)
    )
    assert run(FindingKind.SHADOW_AGENT).resolved == 1
    # when the marking expires it comes back as a new finding
    clock.shift(timedelta(days=31))
    report(source, None, name="Vendor bot", service="helpdesk", environment="staging")
    assert run(FindingKind.SHADOW_AGENT).found == 1
    # and linking it to an agent resolves it at once, without waiting for the next run
    telemetry_services.link_identity("Vendor bot@helpdesk", agent, actor=board)
    assert open_findings(FindingKind.SHADOW_AGENT) == []


def test_unapproved_in_production(clock, source, agent, version, approve_release):
    report(source, agent.key, environment="production")
    assert_raises_once_and_resolves(
        FindingKind.UNAPPROVED_IN_PRODUCTION, lambda: approve_release(agent, version, "production")
    )


def test_lapsed_monitoring_follows_the_tier_window(clock, source, agent):
    # given a high-risk production agent that last reported 23 hours ago
    registry_services.set_agent_risk_tier(agent, "high", actor=None)
    set_state(agent, lifecycle="production", lifecycle_changed_at=timezone.now() - timedelta(days=30))
    report(source, agent.key, when=timezone.now() - timedelta(hours=23))
    assert run(FindingKind.LAPSED_MONITORING).found == 0
    # when two more hours pass (24-hour window)
    clock.shift(timedelta(hours=2))
    # then it lapses, once, and resolves when it reports again
    assert_raises_once_and_resolves(FindingKind.LAPSED_MONITORING, lambda: report(source, agent.key))


def test_the_hourly_refresh_catches_a_tier_change_no_hook_saw(clock, source, agent):
    from telemetry import tasks as telemetry_tasks

    # given a medium-risk production agent that reported two hours ago (72-hour window)
    set_state(agent, lifecycle="production", lifecycle_changed_at=timezone.now() - timedelta(days=30))
    report(source, agent.key, when=timezone.now() - timedelta(hours=2))
    # when its tier becomes critical (1-hour window) behind every hook's back
    set_state(agent, risk_tier="critical")
    # then the check reads the stored deadline, still days away, until the scheduled refresh moves it
    assert run(FindingKind.LAPSED_MONITORING).found == 0
    assert telemetry_tasks.refresh_monitoring_deadlines() == {"changed": 1}
    assert run(FindingKind.LAPSED_MONITORING).found == 1


def test_stored_deadlines_follow_a_tier_change_and_a_new_policy_at_once(clock, source, agent, admin):
    from governance import services as governance_services
    from governance.models import RiskPolicy

    set_state(agent, lifecycle="production", lifecycle_changed_at=timezone.now() - timedelta(days=30))
    report(source, agent.key, when=timezone.now() - timedelta(hours=2))
    reported = timezone.now() - timedelta(hours=2)
    # when the governance layer raises the tier to high, the next report is due 24 hours after the last
    registry_services.set_agent_risk_tier(agent, "high", actor=None)
    assert MonitoringState.objects.get(agent=agent).deadline_at == reported + timedelta(hours=24)
    # and when a policy version gives high-risk production agents 12 hours, 12 hours
    policy = RiskPolicy.objects.current()
    cadences = {tier: dict(values) for tier, values in policy.cadences.items()}
    cadences["high"]["silence_production_hours"] = 12
    governance_services.publish_policy(policy, actor=admin, notes="Shorter silence", changes={"cadences": cadences})
    assert MonitoringState.objects.get(agent=agent).deadline_at == reported + timedelta(hours=12)


def test_lapsed_monitoring_raises_for_an_agent_that_never_reported(clock, agent):
    # given an agent a week in pilot, its deadline set as the registry's transition hook sets it
    set_state(agent, lifecycle="pilot", lifecycle_changed_at=timezone.now() - timedelta(days=7))
    telemetry_services.refresh_agent_deadline(agent)
    result = run(FindingKind.LAPSED_MONITORING)
    [finding] = open_findings(FindingKind.LAPSED_MONITORING)
    assert result.found == 1
    assert finding.details == {"never_reported": True}
    # retiring the agent clears it
    set_state(agent, lifecycle="retired")
    assert run(FindingKind.LAPSED_MONITORING).resolved == 1


def test_review_overdue(clock, agent, owner):
    from governance import services as governance_services

    review = governance_services.schedule_periodic_review(agent, actor=None, due_at=timezone.now() + timedelta(days=1))
    assert run(FindingKind.REVIEW_OVERDUE).found == 0
    clock.shift(timedelta(days=2))
    assert_raises_once_and_resolves(
        FindingKind.REVIEW_OVERDUE, lambda: type(review).objects.filter(pk=review.pk).update(status="cancelled")
    )


def test_orphaned_owner(clock, agent, owner, admin, employee):
    registry_services.deactivate_user(owner, actor=admin)
    owner.is_active = True  # the transfer below checks the acting owner object, not the stored one
    assert_raises_once_and_resolves(
        FindingKind.ORPHANED_OWNER,
        lambda: registry_services.transfer_ownership(agent, employee, actor=admin, reason="Olivia left"),
    )


def test_control_gap_and_its_clearing(clock, agent, version, assess, prove_controls):
    assess(agent)
    set_state(agent, lifecycle="pilot")
    run(FindingKind.CONTROL_GAP)
    [finding] = open_findings(FindingKind.CONTROL_GAP)
    assert "scope" in finding.details["controls"]
    # proving all but one control narrows the finding, without a new one
    prove_controls(agent, skip=("escalation",))
    assert run(FindingKind.CONTROL_GAP).found == 0
    finding.refresh_from_db()
    assert finding.details["controls"] == ["escalation"]
    assert finding.events.filter(kind="updated").exists()
    prove_controls(agent)
    assert run(FindingKind.CONTROL_GAP).resolved == 1


def test_evidence_expired(clock, agent, version, assess, prove_controls, owner, board):
    from governance import services as governance_services
    from governance.models import Evidence

    assess(agent, people_affected="more", action_impact="production_affecting")  # medium+: 365-day controls
    agent.refresh_from_db()
    prove_controls(agent)
    assert run(FindingKind.EVIDENCE_EXPIRED).found == 0
    clock.shift(timedelta(days=366))

    def renew():
        for evidence in Evidence.objects.filter(agent=agent, status="accepted", valid_until__lte=timezone.now()):
            fresh = governance_services.submit_evidence(
                agent, evidence.control_code, actor=owner, kind="statement", statement="Renewed."
            )
            governance_services.accept_evidence(fresh, actor=board)

    finding = assert_raises_once_and_resolves(FindingKind.EVIDENCE_EXPIRED, renew)
    assert "tool-allowlist" in finding.details["controls"]


def test_no_success_metric(clock, agent):
    set_state(agent, lifecycle="production", production_since=timezone.now())
    assert_raises_once_and_resolves(
        FindingKind.NO_SUCCESS_METRIC,
        lambda: set_state(agent, business_outcome="Fewer HR tickets", metric_name="Tickets", metric_target=100),
    )


def test_low_adoption_waits_60_days(clock, agent):
    set_state(
        agent,
        lifecycle="production",
        production_since=timezone.now() - timedelta(days=59),
        eligible_users=1000,
        active_users=150,
    )
    assert run(FindingKind.LOW_ADOPTION).found == 0
    clock.shift(timedelta(days=2))
    assert_raises_once_and_resolves(FindingKind.LOW_ADOPTION, lambda: set_state(agent, active_users=250))


def test_each_run_is_recorded(clock, source):
    report(source, "a.bot")
    report(source, "b.bot")
    checks.run_check(FindingKind.SHADOW_AGENT)
    run = CheckRun.objects.get(check_kind="shadow_agent")
    assert (run.status, run.found, run.resolved, run.still_open) == ("succeeded", 2, 0, 2)
    assert run.finished_at is not None


def test_a_failing_check_is_recorded_and_the_sweep_goes_on(clock, monkeypatch, source):
    report(source, "a.bot")

    def broken(now):
        raise RuntimeError("boom")

    monkeypatch.setitem(checks.CHECKS, FindingKind.ORPHANED_OWNER, broken)
    results = checks.run_all_checks()
    assert CheckRun.objects.get(check_kind="orphaned_owner").status == "failed"
    assert "boom" in CheckRun.objects.get(check_kind="orphaned_owner").error
    assert {r.kind: r.found for r in results}["shadow_agent"] == 1


def test_a_sweep_that_loses_the_database_runs_the_rest_and_asks_for_a_retry(clock, monkeypatch, source):
    # given a check whose connection dies, as in a database restart
    from django.db import OperationalError

    report(source, "a.bot")

    def cut_off(now):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setitem(checks.CHECKS, FindingKind.REVIEW_OVERDUE, cut_off)
    # when the sweep runs
    with pytest.raises(checks.SweepInterrupted) as interrupted:
        checks.run_all_checks()
    # then the other checks still ran, the lost one is recorded as failed, and the sweep says which to retry
    assert interrupted.value.kinds == [FindingKind.REVIEW_OVERDUE]
    assert CheckRun.objects.get(check_kind="review_overdue").status == "failed"
    assert CheckRun.objects.get(check_kind="low_adoption").status == "succeeded"
    assert len(open_findings(FindingKind.SHADOW_AGENT)) == 1


def test_the_sweep_costs_the_same_number_of_queries_at_any_size(
    clock, source, make_agent, django_assert_max_num_queries
):
    def sweep_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            checks.run_all_checks()
        return len(ctx)

    for i in range(3):
        make_agent(f"unit.small-{i}")
        report(source, f"shadow.small-{i}")
    small = sweep_queries()
    for i in range(30):
        agent = make_agent(f"unit.big-{i}")
        set_state(agent, lifecycle="production", production_since=timezone.now())
        report(source, f"shadow.big-{i}")
    checks.run_all_checks()  # opens the new findings
    steady = sweep_queries()
    assert steady <= small + 5, (small, steady)


def test_run_checks_command_prints_what_it_found(clock, source, capsys):
    report(source, "a.bot")
    call_command("run_checks", "--check", "shadow_agent")
    assert "shadow_agent: 1 found, 0 resolved, 1 open" in capsys.readouterr().out
    call_command("run_checks")
    assert "shadow_agent: 0 found, 0 resolved, 1 open" in capsys.readouterr().out


# --- The reconciliation itself (in the database on PostgreSQL, in Python on SQLite) ---------------


def test_summaries_read_as_before_in_either_database(clock, source, agent, owner):
    from governance import services as governance_services

    # given a silent production agent, an overdue review and low adoption
    set_state(
        agent,
        lifecycle="production",
        lifecycle_changed_at=timezone.now() - timedelta(days=90),
        production_since=timezone.now() - timedelta(days=90),
        eligible_users=8,
        active_users=1,
    )
    report(source, agent.key, when=timezone.now() - timedelta(days=5, minutes=7))
    governance_services.schedule_periodic_review(agent, actor=None, due_at=timezone.now() - timedelta(days=3))
    # when the checks run
    for kind in (FindingKind.LAPSED_MONITORING, FindingKind.REVIEW_OVERDUE, FindingKind.LOW_ADOPTION):
        run(kind)
    # then the summaries are the texts the Python checks wrote (dates in UTC, the share rounded half up)
    summaries = dict(Finding.objects.open().filter(agent=agent).values_list("kind", "summary"))
    assert summaries[FindingKind.LAPSED_MONITORING] == f"{agent.name} has been silent since 25 Feb 2026 11:53 UTC."
    assert summaries[FindingKind.REVIEW_OVERDUE] == f"{agent.name}'s review was due on 27 Feb 2026."
    assert summaries[FindingKind.LOW_ADOPTION] == f"{agent.name}: 1 of 8 eligible users are active (13%)."
    low = Finding.objects.get(kind=FindingKind.LOW_ADOPTION)
    assert low.details == {"active_users": 1, "eligible_users": 8}


def test_a_severity_change_updates_the_open_finding_with_history(clock, agent, owner, admin):
    # given an orphaned agent in production: high
    set_state(agent, lifecycle="production", production_since=timezone.now())
    registry_services.deactivate_user(owner, actor=admin)
    run(FindingKind.ORPHANED_OWNER)
    [finding] = open_findings(FindingKind.ORPHANED_OWNER)
    assert finding.severity == "high"
    # when the agent is suspended (not running: medium)
    set_state(agent, lifecycle="suspended")
    result = run(FindingKind.ORPHANED_OWNER)
    # then the same finding carries the new severity, and its history says so once
    assert (result.found, result.resolved, result.still_open) == (0, 0, 1)
    finding.refresh_from_db()
    assert (finding.severity, finding.resolved_at) == ("medium", None)
    assert list(finding.events.values_list("kind", flat=True)) == ["opened", "updated"]
    run(FindingKind.ORPHANED_OWNER)
    assert finding.events.count() == 2


def test_a_finding_without_a_digest_is_compared_by_its_details_and_then_keeps_one(clock, agent, owner, admin):
    # given an open orphaned-owner finding written before digests existed, its details as the check's
    registry_services.deactivate_user(owner, actor=admin)
    run(FindingKind.ORPHANED_OWNER)
    [finding] = open_findings(FindingKind.ORPHANED_OWNER)
    assert finding.details_digest == checks.details_digest({})
    Finding.objects.filter(pk=finding.pk).update(details_digest="")
    # when the check runs
    result = run(FindingKind.ORPHANED_OWNER)
    # then nothing changed for anyone: no update in its history, and it carries the digest again
    finding.refresh_from_db()
    assert (result.found, result.resolved, result.still_open) == (0, 0, 1)
    assert list(finding.events.values_list("kind", flat=True)) == ["opened"]
    assert finding.details_digest == checks.details_digest({})
    # and a stale digest over different details is caught by the documents themselves
    Finding.objects.filter(pk=finding.pk).update(details={"old": True}, details_digest="")
    run(FindingKind.ORPHANED_OWNER)
    finding.refresh_from_db()
    assert finding.details == {}
    assert list(finding.events.values_list("kind", flat=True)) == ["opened", "updated"]


def test_acknowledged_and_waived_findings_stay_so_until_their_condition_clears(clock, agent, board):
    from governance.services import findings as finding_services

    # given a production agent without a success metric, its finding acknowledged and waived
    set_state(agent, lifecycle="production", production_since=timezone.now())
    run(FindingKind.NO_SUCCESS_METRIC)
    [finding] = open_findings(FindingKind.NO_SUCCESS_METRIC)
    finding_services.acknowledge_finding(finding, actor=board, note="On it.")
    finding_services.waive_finding(
        finding, actor=board, reason="Pilot metric pending.", until=timezone.now() + timedelta(days=30)
    )
    # when the check runs again
    assert run(FindingKind.NO_SUCCESS_METRIC).found == 0
    # then the finding is untouched: still open, acknowledged and waived
    finding.refresh_from_db()
    assert finding.state(timezone.now()) == "waived"
    assert finding.acknowledged_at is not None
    # when the condition clears it resolves like any other, and a relapse opens a fresh finding
    set_state(agent, business_outcome="Fewer tickets", metric_name="Tickets", metric_target=10)
    assert run(FindingKind.NO_SUCCESS_METRIC).resolved == 1
    set_state(agent, metric_target=None)
    assert run(FindingKind.NO_SUCCESS_METRIC).found == 1
    [fresh] = open_findings(FindingKind.NO_SUCCESS_METRIC)
    assert fresh.pk != finding.pk
    assert (fresh.acknowledged_at, fresh.waived_at) == (None, None)


def test_summaries_are_cut_at_300_characters(clock, source):
    identity = "x" * 290
    report(source, identity)
    run(FindingKind.SHADOW_AGENT)
    [finding] = open_findings(FindingKind.SHADOW_AGENT)
    assert len(finding.summary) == 300
    assert finding.summary.startswith(identity)


def test_resolved_findings_queue_their_webhook_once(clock, agent, admin, django_capture_on_commit_callbacks):
    from governance.models import WebhookDelivery
    from governance.services import findings as finding_services

    # given an endpoint, and a finding opened and then cleared
    finding_services.create_webhook(actor=admin, name="SIEM", url="http://127.0.0.1:9/hook", secret="s" * 16)
    set_state(agent, lifecycle="production", production_since=timezone.now())
    run(FindingKind.NO_SUCCESS_METRIC)
    set_state(agent, business_outcome="Fewer tickets", metric_name="Tickets", metric_target=10)
    run(FindingKind.NO_SUCCESS_METRIC)
    run(FindingKind.NO_SUCCESS_METRIC)
    # then one delivery per event, with the finding as it was when the event happened
    deliveries = {d.event: d.payload for d in WebhookDelivery.objects.all()}
    assert set(deliveries) == {"finding.opened", "finding.resolved"}
    assert deliveries["finding.resolved"]["finding"]["resolved_at"] == timezone.now().isoformat()
    assert deliveries["finding.opened"]["finding"]["agent"] == agent.key


def test_a_run_left_running_past_the_time_limit_is_marked_abandoned_by_the_next(clock, settings, db):
    # given runs left "running" by lost workers: one past the hard time limit, one recent, another check's
    limit = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    lost = CheckRun.objects.create(check_kind=FindingKind.ORPHANED_OWNER, started_at=timezone.now() - limit * 2)
    recent = CheckRun.objects.create(check_kind=FindingKind.ORPHANED_OWNER, started_at=timezone.now() - limit / 2)
    other = CheckRun.objects.create(check_kind=FindingKind.REVIEW_OVERDUE, started_at=timezone.now() - limit * 2)
    # when the check runs again
    result = run(FindingKind.ORPHANED_OWNER)
    # then only its own lost run is recorded as failed, with the reason, and the new run succeeded
    lost.refresh_from_db()
    assert (lost.status, lost.finished_at, lost.error) == (
        "failed",
        timezone.now(),
        "Abandoned: the worker running it was lost.",
    )
    assert CheckRun.objects.get(pk=recent.pk).status == "running"
    assert CheckRun.objects.get(pk=other.pk).status == "running"
    assert CheckRun.objects.get(pk=result.run_id).status == "succeeded"
