"""The runtime demo: a credential, decisions and denials in the log, one stopped agent; twice is once."""

from io import StringIO

import pytest

from registry import services as registry_services
from registry.roles import Role
from runtime import demo
from runtime.models import AllowCount, DenialRecord, GatewayCredential
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_demo_logs_real_decisions_and_stops_one_agent_and_a_second_run_changes_nothing(
    make_agent, owner, tool, put_in
):
    # given the demo's administrator and a small running portfolio
    admin = UserFactory(username=demo.ADMIN_USERNAME)
    registry_services.set_user_roles(admin, [Role.PLATFORM_ADMIN], actor=None)
    for i in range(3):
        agent = make_agent(f"demo.agent-{i}", name=f"Demo {i}")
        version = registry_services.create_version(
            agent, actor=owner, tools=[(tool, "read")], label="1", model_provider="x", model_name="y"
        )
        put_in(agent, "production", version)

    # when
    out = StringIO()
    demo.build(out)
    demo.build(out)

    # then
    assert GatewayCredential.objects.count() == 1
    assert "skipped" in out.getvalue().splitlines()[-1]
    from registry.models import Stop

    stop = Stop.objects.in_force().get()
    assert stop.scope == "agent"
    assert stop.reason
    assert AllowCount.objects.exists()
    reasons = set(DenialRecord.objects.values_list("reason", flat=True))
    assert {"stopped", "unregistered"} <= reasons
