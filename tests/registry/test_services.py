"""Every registry service: what it changes, who may call it, and the exact audit row it writes."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from registry import hooks, services
from registry.choices import Lifecycle, UserKind
from registry.exceptions import Conflict
from registry.models import Agent, AgentDelegate, AgentVersionTool, ApiToken, AuditEvent, BusinessUnit, Tool
from registry.roles import Role, role_names
from tests.factories import UserFactory


def last_event() -> AuditEvent:
    # Sign-in and refusal records (auth.*) describe requests, not the change under test.
    return AuditEvent.objects.exclude(event_type__startswith="auth.").order_by("-seq").first()


def events_since(seq: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


def head() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


# --- create_agent ---------------------------------------------------------------------


def test_create_agent_registers_a_proposed_agent_owned_by_the_actor(owner, unit):
    # when
    agent = services.create_agent(
        actor=owner,
        key="hr.leave-assistant",
        name="Leave assistant",
        business_unit=unit,
        pattern="employee_enablement",
        autonomy_level=3,
        topology="embedded",
        data_classification="internal",
    )

    # then
    assert agent.owner == owner
    assert agent.lifecycle == Lifecycle.PROPOSED
    assert agent.mode == "execute"
    assert owner.has_perm("registry.change_agent", agent)
    assert owner.has_perm("registry.manage_agent", agent)
    event = last_event()
    assert event.event_type == "agent.created"
    assert event.actor == owner
    assert event.agent_id == agent.pk
    assert event.target_type == "registry.agent"
    assert event.before == {}
    assert event.after["key"] == "hr.leave-assistant"
    assert event.after["owner"] == owner.pk
    assert event.after["mode"] == "execute"
    assert event.after["lifecycle"] == "proposed"


def test_create_agent_for_another_owner_gives_them_the_rights(owner, employee, make_agent):
    # when
    agent = make_agent("hr.x", actor=employee, agent_owner=owner)

    # then
    assert agent.owner == owner
    assert agent.created_by == employee
    assert services.can_manage_agent(owner, agent)
    assert not services.can_change_agent(employee, agent)


@pytest.mark.parametrize(
    ("owner_factory", "message"),
    [
        (lambda: UserFactory(username="bot", kind=UserKind.SERVICE), "bot is a service account"),
        (lambda: UserFactory(username="gone", is_active=False), "gone is deactivated"),
    ],
)
def test_create_agent_refuses_an_owner_who_is_not_an_active_person(make_agent, owner_factory, message):
    with pytest.raises(ValidationError) as exc:
        make_agent("hr.x", agent_owner=owner_factory())
    assert message in exc.value.message_dict["owner"][0]
    assert not Agent.objects.filter(key="hr.x").exists()


def test_validate_owner_refuses_an_empty_owner():
    with pytest.raises(ValidationError) as exc:
        services.validate_owner(None)
    assert exc.value.message_dict == {"owner": ["Every agent needs a named owner."]}


def test_create_agent_refuses_a_duplicate_key_on_the_key_field(agent, make_agent):
    with pytest.raises(ValidationError) as exc:
        make_agent(agent.key)
    assert "key" in exc.value.message_dict


def test_create_agent_refuses_fields_with_their_own_service(make_agent):
    with pytest.raises(ValidationError) as exc:
        make_agent("hr.x", lifecycle="production")
    assert exc.value.message_dict == {"lifecycle": ["This field cannot be set here."]}


def test_create_agent_refuses_a_service_account(service_account, unit):
    with pytest.raises(PermissionDenied):
        services.create_agent(actor=service_account, owner=UserFactory(username="p"), key="x", business_unit=unit)


def test_create_agent_calls_the_created_listeners(make_agent, owner, monkeypatch):
    # given
    seen = []
    monkeypatch.setattr(hooks, "agent_created_listeners", [lambda agent, actor: seen.append((agent.key, actor))])

    # when
    make_agent("hr.x")

    # then
    assert seen == [("hr.x", owner)]


# --- update_agent ---------------------------------------------------------------------


def test_update_agent_records_only_the_changed_fields(agent, delegate):
    # when
    updated = services.update_agent(agent, actor=delegate, name="Leave helper", description=agent.description)

    # then
    assert updated.name == "Leave helper"
    assert updated.row_version == agent.row_version + 1
    event = last_event()
    assert event.event_type == "agent.changed"
    assert event.actor == delegate
    assert event.before == {"name": "Leave assistant"}
    assert event.after == {"name": "Leave helper"}


def test_update_agent_records_the_derived_mode_with_the_autonomy(agent, owner):
    services.update_agent(agent, actor=owner, autonomy_level=4)
    assert last_event().before == {"autonomy_level": 2, "mode": "assist"}
    assert last_event().after == {"autonomy_level": 4, "mode": "execute"}


def test_update_agent_without_a_change_writes_nothing(agent, owner):
    # given
    seq = head()

    # when
    same = services.update_agent(agent, actor=owner, name=agent.name)

    # then
    assert same.row_version == agent.row_version
    assert events_since(seq) == []


@time_machine.travel("2026-02-01 12:00Z", tick=False)
def test_update_agent_stamps_when_the_metric_moved(agent, owner):
    updated = services.update_agent(agent, actor=owner, metric_current=42)
    assert updated.metric_updated_at == timezone.now()


@pytest.mark.parametrize("persona", ["employee", "outsider", "board", "leadership", "service_account"])
def test_update_agent_refuses_anyone_but_owner_delegates_and_admins(agent, persona, request):
    # given
    actor = request.getfixturevalue(persona)
    seq = head()

    # when / then
    with pytest.raises(PermissionDenied):
        services.update_agent(agent, actor=actor, name="Hijacked")
    agent.refresh_from_db()
    assert agent.name == "Leave assistant"
    assert events_since(seq) == []


def test_update_agent_by_an_admin(agent, admin):
    services.update_agent(agent, actor=admin, name="Leave helper")
    assert last_event().actor == admin


def test_update_agent_refuses_a_stale_row_version(agent, owner, delegate):
    # given: both read version 1; the delegate saves first
    services.update_agent(agent, actor=delegate, expected_row_version=1, name="Delegate's name")
    seq = head()

    # when / then
    with pytest.raises(Conflict):
        services.update_agent(agent, actor=owner, expected_row_version=1, name="Owner's name")
    agent.refresh_from_db()
    assert agent.name == "Delegate's name"
    assert events_since(seq) == []


def test_update_agent_refuses_owner_and_lifecycle(agent, owner, employee):
    with pytest.raises(ValidationError) as exc:
        services.update_agent(agent, actor=owner, owner=employee, lifecycle="production")
    assert set(exc.value.message_dict) == {"owner", "lifecycle"}


def test_the_key_changes_freely_until_telemetry_sees_it(agent, owner):
    services.update_agent(agent, actor=owner, key="hr.leave-helper")
    assert last_event().after == {"key": "hr.leave-helper"}


def test_the_key_is_fixed_once_telemetry_has_seen_it(agent, owner):
    # given
    seen = timezone.now()
    assert services.lock_agent_key(agent, seen_at=seen) is True
    lock_event = last_event()

    # when / then
    with pytest.raises(ValidationError) as exc:
        services.update_agent(agent, actor=owner, key="hr.leave-helper")
    assert "Telemetry has already reported this key" in exc.value.message_dict["key"][0]
    agent.refresh_from_db()
    assert agent.key == "hr.leave-assistant"
    assert lock_event.event_type == "agent.changed"
    assert lock_event.before == {"key_locked_at": None}
    assert lock_event.after == {"key_locked_at": seen.isoformat()}
    # other fields still change, and locking twice does nothing
    services.update_agent(agent, actor=owner, name="Still editable")
    assert services.lock_agent_key(agent, seen_at=seen) is False


def test_update_agent_calls_the_change_listeners_with_the_diff(agent, owner, monkeypatch):
    seen = []
    monkeypatch.setattr(hooks, "agent_change_listeners", [lambda a, before, after, actor: seen.append((before, after))])
    services.update_agent(agent, actor=owner, external_facing=True)
    assert seen == [({"external_facing": False}, {"external_facing": True})]


def test_set_agent_risk_tier_records_the_tier_and_reason(agent, board):
    services.set_agent_risk_tier(agent, "high", actor=board, reason="assessment 3")
    event = last_event()
    assert (event.event_type, event.before, event.after) == (
        "agent.changed",
        {"risk_tier": ""},
        {"risk_tier": "high", "reason": "assessment 3"},
    )
    seq = head()
    services.set_agent_risk_tier(agent, "high", actor=board)
    assert events_since(seq) == []


# --- transition_agent -----------------------------------------------------------------


@pytest.fixture
def registry_rules_only(monkeypatch):
    """The registry's own state machine, without the guards upper layers register (the release
    gate has its own tests in tests/governance)."""
    monkeypatch.setattr(hooks, "transition_guards", [])


# A path through every allowed move, each made by someone entitled to it.
ALLOWED_MOVES = [
    (from_state, to_state, "board" if rule == "board" else "owner")
    for (from_state, to_state), rule in services.TRANSITIONS.items()
]


def put_in_state(agent, state):
    """Set a state directly (tests of one move start from its source state)."""
    Agent.objects.filter(pk=agent.pk).update(
        lifecycle=state,
        production_since=timezone.now() if state not in (Lifecycle.PROPOSED, Lifecycle.IN_REVIEW) else None,
    )
    agent.refresh_from_db()


@pytest.mark.parametrize(("from_state", "to_state", "persona"), ALLOWED_MOVES)
def test_every_allowed_move_works_for_the_right_role(
    agent, request, registry_rules_only, from_state, to_state, persona
):
    # given
    put_in_state(agent, from_state)
    actor = request.getfixturevalue(persona)

    # when
    moved = services.transition_agent(agent, to_state, actor=actor, reason="Because")

    # then
    assert moved.lifecycle == to_state
    event = last_event()
    assert event.event_type == "agent.transitioned"
    assert event.actor == actor
    assert event.before == {"lifecycle": from_state}
    assert event.after == {"lifecycle": to_state, "reason": "Because"}


@pytest.mark.parametrize(
    ("from_state", "to_state"),
    [(f, t) for f in Lifecycle.values for t in Lifecycle.values if f != t and (f, t) not in services.TRANSITIONS],
)
def test_every_other_move_is_refused_with_the_allowed_ones(agent, admin, from_state, to_state):
    # given
    put_in_state(agent, from_state)
    seq = head()

    # when / then
    with pytest.raises(ValidationError) as exc:
        services.transition_agent(agent, to_state, actor=admin, reason="Because")
    message = exc.value.message_dict["to_state"][0]
    assert f"cannot move from {Lifecycle(from_state).label} straight to {Lifecycle(to_state).label}" in message
    allowed = [Lifecycle(s).label for s in services.allowed_transitions(from_state)]
    assert all(label in message for label in allowed)
    agent.refresh_from_db()
    assert agent.lifecycle == from_state
    assert events_since(seq) == []


def test_only_the_board_approves(agent, owner, admin, board):
    # given
    services.transition_agent(agent, Lifecycle.IN_REVIEW, actor=owner, reason="Ready")

    # when / then
    for actor in (owner, admin):
        with pytest.raises(PermissionDenied, match="Only the governance board may move this agent to Approved"):
            services.transition_agent(agent, Lifecycle.APPROVED, actor=actor, reason="Looks fine")
    assert services.transition_agent(agent, Lifecycle.APPROVED, actor=board, reason="Controls ok").lifecycle == (
        "approved"
    )


def test_the_board_may_suspend_but_not_release(agent, board, registry_rules_only):
    put_in_state(agent, Lifecycle.PRODUCTION)
    services.transition_agent(agent, Lifecycle.SUSPENDED, actor=board, reason="Incident")
    with pytest.raises(
        PermissionDenied, match="Only the agent's owner or a delegate may move this agent to Production"
    ):
        services.transition_agent(agent, Lifecycle.PRODUCTION, actor=board, reason="Fixed")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_transition_needs_a_reason(agent, owner, reason):
    with pytest.raises(ValidationError) as exc:
        services.transition_agent(agent, Lifecycle.IN_REVIEW, actor=owner, reason=reason)
    assert "reason" in exc.value.message_dict


def test_a_transition_refuses_an_unknown_state(agent, owner):
    with pytest.raises(ValidationError) as exc:
        services.transition_agent(agent, "launched", actor=owner, reason="Go")
    assert exc.value.message_dict == {"to_state": ["'launched' is not a lifecycle state."]}


def test_a_registered_guard_can_refuse_a_move(agent, owner, monkeypatch):
    # given: the governance layer's release gate
    monkeypatch.setattr(hooks, "transition_guards", [lambda a, to, actor: ["Release checklist not approved."]])

    # when / then
    with pytest.raises(ValidationError) as exc:
        services.transition_agent(agent, Lifecycle.IN_REVIEW, actor=owner, reason="Go")
    assert exc.value.message_dict == {"to_state": ["Release checklist not approved."]}


def test_production_sets_production_since_and_review_clears_it(agent, owner, board, registry_rules_only):
    put_in_state(agent, Lifecycle.APPROVED)
    Agent.objects.filter(pk=agent.pk).update(production_since=None)
    moved = services.transition_agent(agent, Lifecycle.PRODUCTION, actor=owner, reason="Launch")
    assert moved.production_since is not None
    assert moved.runs_in_production is True
    back = services.transition_agent(agent, Lifecycle.IN_REVIEW, actor=board, reason="Re-assess")
    assert back.production_since is None


def test_the_system_may_transition_without_an_actor(agent):
    put_in_state(agent, Lifecycle.PRODUCTION)
    services.transition_agent(agent, Lifecycle.IN_REVIEW, actor=None, reason="Review overdue")
    assert last_event().actor_repr == "system"


# --- transfer_ownership ---------------------------------------------------------------


def test_transfer_moves_the_rights_and_records_the_reason(agent, owner, employee):
    # when
    services.transfer_ownership(agent, employee, actor=owner, reason="Olivia changes team")

    # then
    agent.refresh_from_db()
    assert agent.owner == employee
    assert services.can_manage_agent(employee, agent)
    assert not services.can_change_agent(owner, agent)
    event = last_event()
    assert event.event_type == "agent.owner_transferred"
    assert event.before == {"owner": owner.pk, "owner_name": str(owner)}
    assert event.after == {"owner": employee.pk, "owner_name": str(employee), "reason": "Olivia changes team"}


def test_the_old_owner_loses_edit_rights_on_the_next_request(agent, owner, employee, client_for):
    # given
    client = client_for(owner)
    assert client.get(f"/agents/{agent.key}/edit/").status_code == 200

    # when
    services.transfer_ownership(agent, employee, actor=owner, reason="Handover")

    # then
    assert client.get(f"/agents/{agent.key}/edit/").status_code == 403
    assert client_for(employee).get(f"/agents/{agent.key}/edit/").status_code == 200


def test_transfer_to_a_delegate_turns_the_delegation_into_ownership(agent, owner, delegate):
    services.transfer_ownership(agent, delegate, actor=owner, reason="Dan takes over")
    assert not AgentDelegate.objects.filter(agent=agent, user=delegate).exists()
    assert services.can_manage_agent(delegate, agent)


@pytest.mark.parametrize(
    ("make_target", "message"),
    [
        (lambda: UserFactory(username="bot", kind=UserKind.SERVICE), "bot is a service account"),
        (lambda: UserFactory(username="gone", is_active=False), "gone is deactivated"),
        (lambda: None, "Every agent needs a named owner."),
    ],
)
def test_transfer_refuses_an_owner_who_is_not_an_active_person(agent, owner, make_target, message):
    # given
    seq = head()

    # when / then
    with pytest.raises(ValidationError) as exc:
        services.transfer_ownership(agent, make_target(), actor=owner, reason="Handover")
    assert message in exc.value.message_dict["new_owner"][0]
    agent.refresh_from_db()
    assert agent.owner == owner
    assert events_since(seq) == []


def test_transfer_refuses_the_current_owner_and_an_empty_reason(agent, owner, employee):
    with pytest.raises(ValidationError, match="already owns"):
        services.transfer_ownership(agent, owner, actor=owner, reason="Again")
    with pytest.raises(ValidationError) as exc:
        services.transfer_ownership(agent, employee, actor=owner, reason=" ")
    assert "reason" in exc.value.message_dict


@pytest.mark.parametrize("persona", ["delegate", "employee", "board", "leadership"])
def test_only_the_owner_or_an_admin_transfers(agent, employee, persona, request):
    with pytest.raises(PermissionDenied):
        services.transfer_ownership(agent, employee, actor=request.getfixturevalue(persona), reason="Mine now")


def test_an_admin_transfers_an_orphaned_agent(agent, owner, admin, employee):
    # given
    services.deactivate_user(owner, actor=admin)
    assert Agent.objects.orphaned().filter(pk=agent.pk).exists()

    # when
    services.transfer_ownership(agent, employee, actor=admin, reason="Olivia left")

    # then
    agent.refresh_from_db()
    assert agent.owner == employee
    assert not agent.is_orphaned
    assert last_event().actor == admin


# --- delegates ------------------------------------------------------------------------


def test_grant_delegate_gives_edit_but_not_manage_rights(agent, owner, employee):
    # when
    delegation = services.grant_delegate(agent, employee, actor=owner)

    # then
    assert delegation.granted_by == owner
    assert services.can_change_agent(employee, agent)
    assert not services.can_manage_agent(employee, agent)
    event = last_event()
    assert (event.event_type, event.before, event.after) == (
        "agent.delegate_granted",
        {},
        {"delegate": employee.pk, "delegate_name": str(employee)},
    )


def test_grant_and_revoke_take_effect_on_the_next_request(agent, owner, employee, client_for):
    # given
    client = client_for(employee)
    assert client.get(f"/agents/{agent.key}/edit/").status_code == 403

    # when / then
    services.grant_delegate(agent, employee, actor=owner)
    assert client.get(f"/agents/{agent.key}/edit/").status_code == 200
    services.revoke_delegate(agent, employee, actor=owner)
    assert client.get(f"/agents/{agent.key}/edit/").status_code == 403
    event = last_event()
    assert (event.event_type, event.before, event.after) == (
        "agent.delegate_revoked",
        {"delegate": employee.pk, "delegate_name": str(employee)},
        {},
    )


@pytest.mark.parametrize(
    ("make_user", "message"),
    [
        (lambda c: UserFactory(username="bot", kind=UserKind.SERVICE), "A delegate must be an active person."),
        (lambda c: UserFactory(username="gone", is_active=False), "A delegate must be an active person."),
        (lambda c: c["owner"], "owns this agent already"),
        (lambda c: c["delegate"], "is already a delegate"),
    ],
)
def test_grant_delegate_refuses(agent, owner, delegate, make_user, message):
    with pytest.raises(ValidationError, match=message):
        services.grant_delegate(agent, make_user({"owner": owner, "delegate": delegate}), actor=owner)


def test_a_delegate_cannot_add_delegates(agent, delegate, employee):
    with pytest.raises(PermissionDenied):
        services.grant_delegate(agent, employee, actor=delegate)


def test_revoking_someone_who_is_no_delegate_is_refused(agent, owner, employee):
    with pytest.raises(ValidationError, match="is not a delegate"):
        services.revoke_delegate(agent, employee, actor=owner)


# --- versions -------------------------------------------------------------------------


def test_create_version_records_its_tools(agent, delegate, tool, write_tool):
    # when
    version = services.create_version(
        agent,
        actor=delegate,
        tools=[(tool, "read"), (write_tool, "write")],
        label="1.0.0",
        model_provider="openai",
        model_name="gpt-5",
    )

    # then
    assert {(g.tool.key, g.access) for g in AgentVersionTool.objects.filter(version=version)} == {
        (tool.key, "read"),
        (write_tool.key, "write"),
    }
    event = last_event()
    assert event.event_type == "version.created"
    assert event.agent_id == agent.pk
    assert event.target_type == "registry.agentversion"
    assert event.after["label"] == "1.0.0"
    assert event.after["tools"] == sorted([f"{tool.key}:read", f"{write_tool.key}:write"])


@pytest.mark.parametrize(
    ("grants", "message"),
    [
        (lambda t, w: [(t, "write")], "read-only in the tool catalog"),
        (lambda t, w: [(t, "read"), (t, "read")], "listed twice"),
        (lambda t, w: [(w, "admin")], "must be read, write or execute"),
    ],
)
def test_create_version_refuses_bad_tool_grants(agent, owner, tool, write_tool, grants, message):
    with pytest.raises(ValidationError, match=message):
        services.create_version(
            agent, actor=owner, tools=grants(tool, write_tool), label="1", model_provider="a", model_name="b"
        )


def test_create_version_refuses_a_duplicate_label_on_the_label_field(agent, owner):
    services.create_version(agent, actor=owner, label="1.0.0", model_provider="a", model_name="b")
    with pytest.raises(ValidationError) as exc:
        services.create_version(agent, actor=owner, label="1.0.0", model_provider="a", model_name="b")
    assert "label" in exc.value.message_dict


def test_create_version_refuses_someone_who_cannot_edit(agent, employee):
    with pytest.raises(PermissionDenied):
        services.create_version(agent, actor=employee, label="1", model_provider="a", model_name="b")


# --- business units and tools ---------------------------------------------------------


def test_create_business_unit_computes_its_path(admin, unit):
    created = services.create_business_unit(actor=admin, name="Payroll", slug="payroll", parent=unit)
    assert created.path == "/group/hr/payroll/"
    event = last_event()
    assert (event.event_type, event.after) == (
        "business_unit.created",
        {"name": "Payroll", "slug": "payroll", "parent": unit.pk, "path": "/group/hr/payroll/"},
    )


def test_moving_a_business_unit_rewrites_its_subtree(admin, unit, other_unit):
    # given
    payroll = services.create_business_unit(actor=admin, name="Payroll", slug="payroll", parent=unit)
    team = services.create_business_unit(actor=admin, name="Team", slug="team", parent=payroll)

    # when
    services.update_business_unit(payroll, actor=admin, parent=other_unit)

    # then
    team.refresh_from_db()
    assert team.path == "/group/finance/payroll/team/"
    event = last_event()
    assert event.event_type == "business_unit.changed"
    assert event.before == {"parent": unit.pk, "path": "/group/hr/payroll/"}
    assert event.after == {"parent": other_unit.pk, "path": "/group/finance/payroll/"}


def test_a_business_unit_cannot_sit_below_itself(admin, unit):
    child = services.create_business_unit(actor=admin, name="Payroll", slug="payroll", parent=unit)
    with pytest.raises(ValidationError, match="cannot sit below itself"):
        services.update_business_unit(unit, actor=admin, parent=child)


def test_only_admins_manage_business_units_and_tools(owner, unit, tool):
    with pytest.raises(PermissionDenied):
        services.create_business_unit(actor=owner, name="X", slug="x")
    with pytest.raises(PermissionDenied):
        services.update_business_unit(unit, actor=owner, name="X")
    with pytest.raises(PermissionDenied):
        services.create_tool(actor=owner, key="x", name="X")
    with pytest.raises(PermissionDenied):
        services.update_tool(tool, actor=owner, name="X")


def test_create_and_update_tool_are_audited(admin):
    created = services.create_tool(actor=admin, key="crm.read-account", name="Read account", system="CRM")
    assert last_event().event_type == "tool.created"
    assert last_event().after == {
        "key": "crm.read-account",
        "name": "Read account",
        "description": "",
        "system": "CRM",
        "supports_write": False,
        "supports_execute": False,
    }
    services.update_tool(created, actor=admin, supports_write=True)
    assert (last_event().event_type, last_event().before, last_event().after) == (
        "tool.changed",
        {"supports_write": False},
        {"supports_write": True},
    )
    services.update_tool(created, actor=admin, supports_execute=True)
    assert (last_event().before, last_event().after) == ({"supports_execute": False}, {"supports_execute": True})


def test_a_tool_cannot_run_irreversible_actions_without_changing_data(admin):
    tool = services.create_tool(actor=admin, key="ledger.reverse", name="Reverse entry", supports_write=True)
    with pytest.raises(ValidationError):
        services.update_tool(tool, actor=admin, supports_write=False, supports_execute=True)
    tool.refresh_from_db()
    assert (tool.supports_write, tool.supports_execute) == (True, False)


def test_duplicate_reference_keys_are_field_errors(admin, tool, unit):
    with pytest.raises(ValidationError) as exc:
        services.create_tool(actor=admin, key=tool.key, name="Again")
    assert "key" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.create_business_unit(actor=admin, name="Again", slug=unit.slug)
    assert "slug" in exc.value.message_dict
    assert Tool.objects.filter(key=tool.key).count() == 1
    assert BusinessUnit.objects.filter(slug=unit.slug).count() == 1


# --- users, roles and tokens ----------------------------------------------------------


def test_create_user_with_roles_is_audited(admin, unit):
    # when
    user = services.create_user(
        actor=admin, username="nina", password="a-long-pass-phrase", roles=[Role.BOARD], business_unit=unit
    )

    # then
    assert user.check_password("a-long-pass-phrase")
    assert role_names(user) == {Role.BOARD}
    created, roles = AuditEvent.objects.filter(target_id=str(user.pk)).order_by("seq")
    assert created.event_type == "user.created"
    assert created.after["username"] == "nina"
    assert created.after["kind"] == "person"
    assert (roles.event_type, roles.before, roles.after) == (
        "user.roles_changed",
        {"roles": []},
        {"roles": [Role.BOARD]},
    )


def test_create_user_refuses_a_non_admin_and_a_taken_username(owner, admin):
    with pytest.raises(PermissionDenied):
        services.create_user(actor=owner, username="nina")
    with pytest.raises(ValidationError) as exc:
        services.create_user(actor=admin, username=owner.username)
    assert "username" in exc.value.message_dict


def test_set_user_roles_makes_admins_staff_and_records_the_change(admin, employee):
    # when
    services.set_user_roles(employee, [Role.PLATFORM_ADMIN, Role.LEADERSHIP], actor=admin)

    # then
    employee.refresh_from_db()
    assert employee.is_staff
    assert (last_event().before, last_event().after) == (
        {"roles": []},
        {"roles": sorted([Role.PLATFORM_ADMIN, Role.LEADERSHIP])},
    )
    services.set_user_roles(employee, [], actor=admin)
    employee.refresh_from_db()
    assert not employee.is_staff


def test_set_user_roles_refuses_an_unknown_role_and_a_non_admin(admin, owner, employee):
    with pytest.raises(ValidationError, match="Unknown role: wizard"):
        services.set_user_roles(employee, ["wizard"], actor=admin)
    with pytest.raises(PermissionDenied):
        services.set_user_roles(employee, [Role.BOARD], actor=owner)


def test_set_user_roles_without_a_change_writes_nothing(admin, board):
    seq = head()
    services.set_user_roles(board, [Role.BOARD], actor=admin)
    assert events_since(seq) == []


def test_deactivate_user_orphans_their_agents_and_revokes_tokens(agent, owner, admin):
    # given
    token, _ = services.create_api_token(owner, actor=owner, name="script")

    # when
    services.deactivate_user(owner, actor=admin)

    # then
    owner.refresh_from_db()
    token.refresh_from_db()
    assert not owner.is_active
    assert token.revoked_at is not None
    event = last_event()
    assert event.event_type == "user.deactivated"
    assert event.before == {"is_active": True}
    assert event.after == {"is_active": False, "orphaned_agents": [agent.key]}


def test_deactivate_user_refuses_a_non_admin(owner, employee):
    with pytest.raises(PermissionDenied):
        services.deactivate_user(employee, actor=owner)


@time_machine.travel("2026-03-01 09:00Z", tick=False)
def test_create_api_token_stores_only_a_digest(owner):
    # when
    token, raw = services.create_api_token(owner, actor=owner, name="laptop", expires_at=timezone.now() + timedelta(1))

    # then
    assert token.digest == services.hash_token(raw)
    assert not ApiToken.objects.filter(digest=raw).exists()
    event = last_event()
    assert event.event_type == "api_token.created"
    assert event.after == {
        "user": owner.pk,
        "name": "laptop",
        "prefix": token.prefix,
        "expires_at": "2026-03-02T09:00:00+00:00",
    }


def test_create_api_token_refuses_bad_input_and_other_people(owner, employee):
    with pytest.raises(ValidationError, match="Name the token"):
        services.create_api_token(owner, actor=owner, name=" ")
    with pytest.raises(ValidationError, match="must be in the future"):
        services.create_api_token(owner, actor=owner, name="x", expires_at=timezone.now() - timedelta(1))
    with pytest.raises(PermissionDenied):
        services.create_api_token(owner, actor=employee, name="x")


def test_revoke_api_token_once(owner, employee):
    token, _ = services.create_api_token(owner, actor=owner, name="x")
    with pytest.raises(PermissionDenied):
        services.revoke_api_token(token, actor=employee)
    services.revoke_api_token(token, actor=owner)
    assert last_event().event_type == "api_token.revoked"
    seq = head()
    services.revoke_api_token(token, actor=owner)
    assert events_since(seq) == []


def test_every_service_call_kept_the_chain_intact(agent, owner, employee, admin):
    from registry import audit

    services.update_agent(agent, actor=owner, name="New")
    services.transfer_ownership(agent, employee, actor=owner, reason="r")
    services.set_user_roles(owner, [Role.BOARD], actor=admin)
    assert audit.verify_chain().ok


def test_update_user_records_only_the_changed_fields(admin, employee, unit, other_unit):
    # when
    services.update_user(employee, actor=admin, job_title="Analyst", business_unit=other_unit, email=employee.email)

    # then
    employee.refresh_from_db()
    assert employee.business_unit == other_unit
    event = last_event()
    assert event.event_type == "user.changed"
    assert event.before == {"business_unit": unit.pk, "job_title": ""}
    assert event.after == {"business_unit": other_unit.pk, "job_title": "Analyst"}


def test_update_user_refuses_non_admins_and_protected_fields(owner, admin, employee):
    with pytest.raises(PermissionDenied):
        services.update_user(employee, actor=owner, job_title="Boss")
    with pytest.raises(ValidationError) as exc:
        services.update_user(employee, actor=admin, is_superuser=True)
    assert exc.value.message_dict == {"is_superuser": ["This field cannot be changed here."]}


def test_an_owner_cannot_be_turned_into_a_service_account(agent, owner, admin):
    with pytest.raises(ValidationError, match="owns agents"):
        services.update_user(owner, actor=admin, kind=UserKind.SERVICE)
    owner.refresh_from_db()
    assert owner.kind == UserKind.PERSON


def test_a_move_that_skips_steps_names_the_way_there(agent, owner):
    # when
    with pytest.raises(ValidationError) as exc:
        services.transition_agent(agent, Lifecycle.PRODUCTION, actor=owner, reason="Launch")
    # then
    messages = exc.value.message_dict["to_state"]
    assert messages[0] == (
        "An agent cannot move from Proposed straight to Production; from Proposed it can move to In review or Retired."
    )
    assert messages[1] == "The way to Production: Proposed → In review → Approved → Production."
