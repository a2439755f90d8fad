"""The release gate: refused for each missing piece on its own, allowed when everything is in place."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from governance import gate, services
from governance.models import Release
from registry import services as registry_services
from registry.choices import Lifecycle
from registry.models import AuditEvent
from telemetry import hooks as telemetry_hooks
from telemetry.models import MonitoringState


def promote(agent, actor):
    return registry_services.transition_agent(agent, "production", actor=actor, reason="go live")


def test_it_lets_a_fully_governed_version_into_production(gate_ready, version, owner):
    # given
    agent = gate_ready
    assert gate.check_release(agent, version, "production") == []
    # when
    agent = promote(agent, owner)
    # then
    assert agent.lifecycle == "production"
    release = Release.objects.get(version=version, environment="production")
    assert release.deployed_at is not None
    assert AuditEvent.objects.filter(event_type="release.deployed", target_id=str(release.pk)).exists()
    # and its first report is due within its tier's production window, so silence is noticed
    window = telemetry_hooks.monitoring_window(agent.risk_tier, "production")
    assert MonitoringState.objects.get(agent=agent).deadline_at == agent.lifecycle_changed_at + window


def test_it_refuses_production_without_a_confirmed_assessment(gate_ready, owner):
    # given: the assessment is replaced by a new one still awaiting confirmation
    agent = gate_ready
    services.submit_assessment(
        agent,
        actor=owner,
        action_impact="internal_reversible",
        irreversible_actions=False,
        people_affected="under_10000",
        eu_ai_act_category="minimal",
        eu_ai_act_reason="unchanged",
    )
    from governance.models import RiskAssessment

    RiskAssessment.objects.filter(agent=agent, status="confirmed").update(status="superseded")
    # when
    with pytest.raises(ValidationError) as refused:
        promote(agent, owner)
    # then
    assert refused.value.message_dict["to_state"] == ["A risk assessment confirmed by the governance board."]
    agent.refresh_from_db()
    assert agent.lifecycle == "approved"


def test_it_refuses_production_when_the_assessment_is_stale(gate_ready, owner):
    # given: a risk fact changed after the assessment
    agent = registry_services.update_agent(gate_ready, actor=owner, data_classification="confidential")
    # when
    missing = gate.check_release(agent, gate.release_version_for(agent), "production")
    # then
    assert len(missing) == 1
    assert missing[0].startswith("A current risk assessment: the confirmed one is stale since")
    assert "data classification" in missing[0]
    with pytest.raises(ValidationError):
        promote(agent, owner)


def test_it_refuses_production_without_board_approval_of_the_version(gate_ready, owner):
    # given: a newer version nobody approved
    agent = gate_ready
    newer = registry_services.create_version(agent, actor=owner, label="1.1.0", model_provider="acme", model_name="m2")
    services.submit_evidence(agent, "release-gate", actor=owner, kind="statement", statement="checklist", version=newer)
    # when
    missing = gate.check_release(agent, newer, "production")
    # then
    assert "The governance board's approval of version 1.1.0 for production." in missing
    assert any(m.startswith("Control release-gate") for m in missing)


def test_it_refuses_production_with_a_control_lacking_accepted_evidence(
    agent, version, assess, prove_controls, approve_release, owner, board
):
    # given: everything except the escalation control
    assess(agent)
    registry_services.transition_agent(agent, "in_review", actor=owner, reason="ready")
    registry_services.transition_agent(agent, "approved", actor=board, reason="ok")
    prove_controls(agent, skip=("escalation",))
    approve_release(agent, version)
    # when
    missing = gate.check_release(agent, version, "production")
    # then
    assert missing == ["Control escalation (Escalation path to a human documented): missing."]


def test_it_counts_a_waived_gap_as_covered_until_the_waiver_ends(
    agent, version, assess, prove_controls, approve_release, owner, board, board2, time_machine
):
    # given
    from datetime import timedelta

    from django.utils import timezone

    assess(agent)
    registry_services.transition_agent(agent, "in_review", actor=owner, reason="ready")
    registry_services.transition_agent(agent, "approved", actor=board, reason="ok")
    prove_controls(agent, skip=("escalation",))
    approve_release(agent, version)
    services.grant_waiver(
        agent,
        "escalation",
        actor=board2,
        reason="runbook lands next sprint",
        expires_at=timezone.now() + timedelta(days=10),
    )
    # when / then
    assert gate.check_release(agent, version, "production") == []
    time_machine.move_to(timezone.now() + timedelta(days=11))
    assert gate.check_release(agent, version, "production") == [
        "Control escalation (Escalation path to a human documented): missing."
    ]


def test_it_refuses_until_changed_evidence_once_its_facts_change(gate_ready, version):
    # given: scope evidence holds "until changed"; the objective changes
    agent = gate_ready
    registry_services.update_agent(agent, actor=agent.owner, objective="Now also books leave")
    # when
    missing = gate.check_release(agent, version, "production")
    # then
    assert missing == [
        "Control scope (Objective and boundaries written down): expired (changed since accepted: objective)."
    ]


def test_it_refuses_evidence_past_its_validity(gate_ready, version, time_machine):
    # given: tool-allowlist evidence is valid 365 days
    from datetime import timedelta

    from django.utils import timezone

    # when
    time_machine.move_to(timezone.now() + timedelta(days=366))
    missing = gate.check_release(gate_ready, version, "production")
    # then
    assert any(
        m.startswith("Control tool-allowlist (Least-privilege tool allowlist): expired (valid until") for m in missing
    )


def test_prohibited_practice_blocks_approval_for_every_environment(agent, version, assess, owner, board):
    # given
    assess(agent, eu_ai_act_category="prohibited", eu_ai_act_reason="Scores employees' social behaviour.")
    # when / then
    for environment in ("development", "staging", "production"):
        assert gate.check_release(agent, version, environment)[0].startswith("The risk assessment places this agent")
    with pytest.raises(ValidationError):
        services.request_release_review(agent, version, "staging", actor=owner)
    registry_services.transition_agent(agent, "in_review", actor=owner, reason="ready")
    with pytest.raises(ValidationError):
        registry_services.transition_agent(agent, "approved", actor=board, reason="ok")


def test_the_gate_refuses_through_the_api_with_the_list_of_missing_items(agent, version, api_for, owner, board):
    # given: approved but nothing else
    registry_services.transition_agent(agent, "in_review", actor=owner, reason="ready")
    registry_services.transition_agent(agent, "approved", actor=board, reason="ok")
    # when
    response = api_for(owner).post(
        f"/api/v1/agents/{agent.key}/transition/", {"to_state": "production", "reason": "go"}, format="json"
    )
    # then
    assert response.status_code == 400
    missing = response.json()["to_state"]
    assert "A risk assessment confirmed by the governance board." in missing
    assert "The governance board's approval of version 1.0.0 for production." in missing
    assert any(m.startswith("Control scope") for m in missing)


def test_the_gate_allows_through_the_api_when_all_is_present(gate_ready, api_for, owner):
    response = api_for(owner).post(
        f"/api/v1/agents/{gate_ready.key}/transition/", {"to_state": "production", "reason": "go"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["lifecycle"] == "production"


def test_the_gate_refuses_through_the_pages(agent, version, client_for, owner, board):
    # given
    registry_services.transition_agent(agent, "in_review", actor=owner, reason="ready")
    registry_services.transition_agent(agent, "approved", actor=board, reason="ok")
    client = client_for(owner)
    # when
    response = client.post(
        reverse("registry:agent-transition", args=[agent.key]), {"to_state": "production", "reason": "go"}, follow=True
    )
    # then
    agent.refresh_from_db()
    assert agent.lifecycle == "approved"
    assert b"A risk assessment confirmed by the governance board." in response.content
    page = client.get(reverse("governance:agent", args=[agent.key]))
    assert b"The governance board&#x27;s approval of version 1.0.0 for production." in page.content


def test_the_gate_allows_through_the_pages(gate_ready, client_for, owner):
    client = client_for(owner)
    client.post(reverse("registry:agent-transition", args=[gate_ready.key]), {"to_state": "production", "reason": "go"})
    gate_ready.refresh_from_db()
    assert gate_ready.lifecycle == "production"
    page = client.get(reverse("governance:agent", args=[gate_ready.key]))
    assert b'id="compliance-state">Compliant' in page.content


def test_releasing_a_new_version_to_production_passes_the_same_gate(
    gate_ready, owner, board, approve_release, client_for
):
    # given: in production with 1.0.0; 1.1.0 approved but its per-release evidence missing
    agent = promote(gate_ready, owner)
    newer = registry_services.create_version(agent, actor=owner, label="1.1.0", model_provider="acme", model_name="m2")
    approve_release(agent, newer)
    release = Release.objects.get(version=newer, environment="production")
    # when
    with pytest.raises(ValidationError) as refused:
        services.deploy_release(release, actor=owner)
    # then
    assert any("release-gate" in m for m in refused.value.messages)
    release.refresh_from_db()
    assert release.deployed_at is None
    # and when the per-release evidence of 1.1.0 is there, it goes live
    for code in ("release-gate", "evaluation"):
        evidence = services.submit_evidence(agent, code, actor=owner, kind="statement", statement="done")
        services.accept_evidence(evidence, actor=board)
    services.deploy_release(release, actor=owner)
    release.refresh_from_db()
    assert release.deployed_at is not None


def test_a_proposed_agent_asked_straight_to_production_learns_the_way_and_the_gate_in_one_answer(
    agent, owner, client_for
):
    # when
    with pytest.raises(ValidationError) as exc:
        registry_services.transition_agent(agent, Lifecycle.PRODUCTION, actor=owner, reason="Launch")
    # then: the allowed next states, the path, and what production will need
    messages = exc.value.message_dict["to_state"]
    assert "from Proposed it can move to In review or Retired" in messages[0]
    assert "The way to Production: Proposed → In review → Approved → Production." in messages
    assert "Production will also need:" in messages
    assert "A risk assessment confirmed by the governance board." in messages
    assert any(m.startswith("Control ") for m in messages)
    # and the page says the same beside the form
    page = client_for(owner).post(
        f"/agents/{agent.key}/transition/", {"to_state": "production", "reason": "Launch"}, follow=True
    )
    assert "A risk assessment confirmed by the governance board." in page.content.decode()
