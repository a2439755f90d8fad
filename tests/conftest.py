"""Shared fixtures: the personas every permission test reads naturally against.

- ``owner`` owns ``agent``; ``delegate`` was granted it; ``employee`` is another
  person in the same unit; ``outsider`` a person in another unit;
- ``board``, ``leadership`` and ``admin`` hold those roles;
- ``service_account`` is a machine account with no role.
"""

import pytest
from rest_framework.test import APIClient

from registry import services
from registry.choices import UserKind
from registry.roles import Role
from tests.factories import BusinessUnitFactory, ToolFactory, UserFactory

pytest_plugins = [
    "tests.transactional",
    "tests.pooler",
    "tests.registry.mcp_fixtures",
    "tests.telemetry.fixtures",
    "tests.governance.fixtures",
    "tests.runtime.fixtures",
    "tests.portfolio.fixtures",
]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: throttle and lockout counts are keyed by ids and names
    that another test (on SQLite, even a rolled-back one) may have used."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def unit(db):
    root = BusinessUnitFactory(name="Group", slug="group")
    return BusinessUnitFactory(name="Human Resources", slug="hr", parent=root)


@pytest.fixture
def other_unit(unit):
    return BusinessUnitFactory(name="Finance", slug="finance", parent=unit.parent)


def _person(username, unit, roles=()):
    user = UserFactory(username=username, first_name=username.title(), business_unit=unit)
    if roles:
        services.set_user_roles(user, roles, actor=None)
    return user


@pytest.fixture
def owner(unit):
    return _person("olivia", unit)


@pytest.fixture
def delegate(unit):
    return _person("dan", unit)


@pytest.fixture
def employee(unit):
    return _person("erin", unit)


@pytest.fixture
def outsider(other_unit):
    return _person("oscar", other_unit)


@pytest.fixture
def board(unit):
    return _person("bea", unit, [Role.BOARD])


@pytest.fixture
def leadership(unit):
    return _person("leo", unit, [Role.LEADERSHIP])


@pytest.fixture
def admin(unit):
    return _person("ada", unit, [Role.PLATFORM_ADMIN])


@pytest.fixture
def service_account(unit):
    return UserFactory(username="svc-bot", kind=UserKind.SERVICE, business_unit=unit)


@pytest.fixture
def make_agent(unit, owner):
    """Register an agent through the service, as a user would (audit row, owner rights)."""

    def make(key="hr.leave-assistant", *, actor=None, agent_owner=None, **fields):
        defaults = {
            "name": key.split(".")[-1].replace("-", " ").title(),
            "business_unit": unit,
            "pattern": "employee_enablement",
            "autonomy_level": 2,
            "topology": "embedded",
            "data_classification": "internal",
        }
        defaults.update(fields)
        return services.create_agent(actor=actor or owner, owner=agent_owner or owner, key=key, **defaults)

    return make


@pytest.fixture
def agent(make_agent, owner, delegate):
    agent = make_agent("hr.leave-assistant", name="Leave assistant", description="Answers leave questions")
    services.grant_delegate(agent, delegate, actor=owner)
    return agent


@pytest.fixture
def tool(db):
    return ToolFactory(key="workday.read-leave", name="Workday leave balance", supports_write=False)


@pytest.fixture
def write_tool(db):
    return ToolFactory(key="workday.book-leave", name="Workday book leave", supports_write=True)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for(client):
    """A Django test client signed in as the given user (None: anonymous)."""

    def login(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return login


@pytest.fixture
def api_for(api_client):
    def login(user):
        api_client.force_authenticate(user=None)
        api_client.logout()
        if user is not None:
            api_client.force_authenticate(user=user)
        return api_client

    return login


PERSONAS = ("owner", "delegate", "employee", "outsider", "board", "leadership", "admin", "service_account", "anonymous")


@pytest.fixture
def persona(request):
    """Resolve a persona name from PERSONAS to a user (None for anonymous)."""

    def resolve(name):
        return None if name == "anonymous" else request.getfixturevalue(name)

    return resolve
