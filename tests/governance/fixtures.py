"""Fixtures of this app's tests, registered through pytest_plugins in tests/conftest.py."""

import pytest

from governance import compliance, services
from registry import services as registry_services
from registry.roles import Role
from tests.factories import UserFactory

ANSWERS = {
    "action_impact": "internal_reversible",
    "irreversible_actions": False,
    "people_affected": "under_10000",
    "eu_ai_act_category": "minimal",
    "eu_ai_act_reason": "Answers employees' leave questions; no Annex III use.",
}


@pytest.fixture
def board2(unit):
    """A second, independent governance board member."""
    user = UserFactory(username="bob", first_name="Bob", business_unit=unit)
    registry_services.set_user_roles(user, [Role.BOARD], actor=None)
    return user


@pytest.fixture
def version(agent, owner):
    return registry_services.create_version(agent, actor=owner, label="1.0.0", model_provider="acme", model_name="m1")


@pytest.fixture
def assess(owner, board):
    """Submit and confirm an assessment: assess(agent, **answers) -> confirmed assessment."""

    def run(agent, *, confirm=True, actor=None, confirmer=None, **answers):
        assessment = services.submit_assessment(agent, actor=actor or owner, **{**ANSWERS, **answers})
        if confirm:
            assessment = services.confirm_assessment(assessment, actor=confirmer or board)
        agent.refresh_from_db()
        return assessment

    return run


@pytest.fixture
def prove_controls(owner, board):
    """Submit and accept evidence for every required control except the system ones (and ``skip``)."""

    def run(agent, *, skip=(), accept=True):
        agent.refresh_from_db()
        for status in compliance.checklist(agent, now=_now()):
            if status.control.is_system or status.code in skip:
                continue
            evidence = services.submit_evidence(
                agent, status.code, actor=owner, kind="statement", statement=f"How {status.code} is done."
            )
            if accept:
                services.accept_evidence(evidence, actor=board)

    return run


@pytest.fixture
def approve_release(owner, board):
    def run(agent, version, environment="production"):
        review = services.request_release_review(agent, version, environment, actor=owner)
        return services.decide_review(review, actor=board, decision="approve", reason="Checked.")

    return run


@pytest.fixture
def gate_ready(agent, version, assess, prove_controls, approve_release, owner, board):
    """The agent approved, assessed, fully evidenced and its version approved for production."""
    assess(agent)
    registry_services.transition_agent(agent, "in_review", actor=owner, reason="ready")
    registry_services.transition_agent(agent, "approved", actor=board, reason="scope agreed")
    prove_controls(agent)
    approve_release(agent, version)
    agent.refresh_from_db()
    return agent


def _now():
    from django.utils import timezone

    return timezone.now()


HOOK_LISTS = (
    "transition_guards",
    "transition_listeners",
    "agent_change_listeners",
    "agent_created_listeners",
    "agent_detail_panels",
    "agent_detail_actions",
)


@pytest.fixture(autouse=True)
def _registry_tests_run_without_governance(request, monkeypatch):
    """The registry's own tests describe the registry alone, as the bottom layer: they run without the
    governance layer's hooks (the release gate, staleness, periodic reviews), which tests/governance
    covers. The permission matrix walks every app's routes, so it keeps them."""
    path = request.node.path
    if path.parent.name != "registry" or path.parent.parent.name != "tests" or path.name == "test_permission_matrix.py":
        return
    from registry import hooks

    for name in HOOK_LISTS:
        kept = [fn for fn in getattr(hooks, name) if not fn.__module__.startswith("governance.")]
        monkeypatch.setattr(hooks, name, kept)


def _uses_transactional_db(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        return True
    return bool({"transactional_db", "live_server", "page"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _default_policy_after_flush(request):
    """Transactional tests end with a flush that also empties the data migration's policy v1;
    the next such test (browser journeys, races) gets it back, as a fresh database would have it."""
    if not _uses_transactional_db(request):
        return
    request.getfixturevalue("transactional_db")
    from governance.defaults import DEFAULT_CONTROLS, DEFAULT_POLICY
    from governance.models import Control, RiskPolicy

    if not RiskPolicy.objects.exists():
        policy = RiskPolicy.objects.create(**DEFAULT_POLICY)
        Control.objects.bulk_create([Control(policy=policy, **row) for row in DEFAULT_CONTROLS])
