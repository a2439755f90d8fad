"""Model rules and the database constraints behind them, hit directly (bypassing validation)."""

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from registry.choices import Mode
from registry.models import Agent, AgentDelegate, AgentVersion, AgentVersionTool, BusinessUnit, User
from tests.factories import AgentFactory, AgentVersionFactory, BusinessUnitFactory, ToolFactory, UserFactory


def raw_update(model, pk, **fields):
    """An UPDATE that skips save() and full_clean(), so only the database can refuse it."""
    with transaction.atomic():
        model.objects.filter(pk=pk).update(**fields)


@pytest.fixture
def stored_agent(db):
    return AgentFactory(key="hr.payslip-helper", autonomy_level=2)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key", "HR Payslip Helper"),
        ("key", "hr..payslip"),
        ("key", "-hr"),
        ("autonomy_level", 0),
        ("autonomy_level", 6),
        ("pattern", "chatbot"),
        ("topology", "mesh"),
        ("lifecycle", "deleted"),
        ("data_classification", "secret"),
        ("risk_tier", "extreme"),
    ],
)
def test_the_database_refuses_an_invalid_agent_value(stored_agent, field, value):
    with pytest.raises(IntegrityError):
        raw_update(Agent, stored_agent.pk, **{field: value})


@pytest.mark.parametrize(("level", "mode"), [(1, Mode.EXECUTE), (2, Mode.EXECUTE), (3, Mode.ASSIST), (5, Mode.ASSIST)])
def test_the_database_refuses_a_mode_that_contradicts_autonomy(stored_agent, level, mode):
    with pytest.raises(IntegrityError):
        raw_update(Agent, stored_agent.pk, autonomy_level=level, mode=mode)


@pytest.mark.parametrize(
    ("level", "mode"), [(1, "assist"), (2, "assist"), (3, "execute"), (4, "execute"), (5, "execute")]
)
def test_mode_follows_autonomy_on_save(stored_agent, level, mode):
    # when
    stored_agent.autonomy_level = level
    stored_agent.save()

    # then
    stored_agent.refresh_from_db()
    assert stored_agent.mode == mode


def test_the_database_refuses_production_since_before_release(stored_agent):
    with pytest.raises(IntegrityError):
        raw_update(Agent, stored_agent.pk, lifecycle="proposed", production_since=timezone.now())


def test_the_database_refuses_a_duplicate_agent_key(stored_agent):
    with pytest.raises(IntegrityError), transaction.atomic():
        AgentFactory(key=stored_agent.key)


def test_the_database_refuses_an_unknown_user_kind(db):
    user = UserFactory(username="robot")
    with pytest.raises(IntegrityError):
        raw_update(User, user.pk, kind="robot")


def test_the_database_refuses_a_unit_that_is_its_own_parent(db):
    unit = BusinessUnitFactory(slug="ops")
    with pytest.raises(IntegrityError):
        raw_update(BusinessUnit, unit.pk, parent=unit.pk)


def test_the_database_refuses_a_second_delegation_of_the_same_person(stored_agent):
    person = UserFactory(username="dana")
    AgentDelegate.objects.create(agent=stored_agent, user=person)
    with pytest.raises(IntegrityError), transaction.atomic():
        AgentDelegate.objects.create(agent=stored_agent, user=person)


def test_the_database_refuses_a_duplicate_version_label(stored_agent):
    AgentVersionFactory(agent=stored_agent, label="1.0.0")
    with pytest.raises(IntegrityError), transaction.atomic():
        AgentVersionFactory(agent=stored_agent, label="1.0.0")


def test_the_database_refuses_an_empty_version_label(stored_agent):
    with pytest.raises(IntegrityError), transaction.atomic():
        AgentVersion.objects.create(agent=stored_agent, label="", model_provider="x", model_name="y")


def test_the_database_refuses_an_unknown_tool_access(stored_agent):
    grant = AgentVersionTool.objects.create(
        version=AgentVersionFactory(agent=stored_agent), tool=ToolFactory(key="crm.read"), access="read"
    )
    with pytest.raises(IntegrityError):
        raw_update(AgentVersionTool, grant.pk, access="admin")


def test_the_database_refuses_a_malformed_tool_key(db):
    tool = ToolFactory(key="crm.read")
    with pytest.raises(IntegrityError):
        raw_update(type(tool), tool.pk, key="CRM Read")


def test_environments_lists_where_the_agent_runs(db):
    agent = AgentFactory.build(runs_in_development=True, runs_in_staging=False, runs_in_production=True)
    assert agent.environments == ["development", "production"]


@pytest.mark.parametrize(
    ("eligible", "active", "rate"), [(200, 50, 0.25), (None, 50, None), (0, 0, None), (100, None, None)]
)
def test_adoption_rate_is_active_over_eligible_where_known(eligible, active, rate):
    assert AgentFactory.build(eligible_users=eligible, active_users=active).adoption_rate() == rate


def test_an_agent_is_orphaned_when_its_owner_is_inactive(stored_agent):
    assert stored_agent.is_orphaned is False
    stored_agent.owner.is_active = False
    assert stored_agent.is_orphaned is True


def test_business_unit_path_and_depth(db):
    root = BusinessUnitFactory(slug="group")
    child = BusinessUnitFactory(slug="hr", parent=root)
    assert child.compute_path() == "/group/hr/"
    assert child.depth == 1


def test_only_active_people_can_own_agents(db):
    assert UserFactory(username="p").can_own_agents is True
    assert UserFactory(username="s", kind="service").can_own_agents is False
    assert UserFactory(username="i", is_active=False).can_own_agents is False


@time_machine.travel("2026-01-05 10:00Z", tick=False)
def test_agents_in_a_unit_include_its_sub_units(db):
    root = BusinessUnitFactory(slug="group")
    hr = BusinessUnitFactory(slug="hr", parent=root)
    recruiting = BusinessUnitFactory(slug="recruiting", parent=hr)
    finance = BusinessUnitFactory(slug="finance", parent=root)
    in_hr = AgentFactory(key="hr.a", business_unit=hr)
    in_recruiting = AgentFactory(key="hr.b", business_unit=recruiting)
    AgentFactory(key="fin.c", business_unit=finance)
    assert set(Agent.objects.in_business_unit(hr)) == {in_hr, in_recruiting}
