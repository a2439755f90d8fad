"""The demo portfolio (``manage.py load_demo``): believable coverage, a real audit trail, safe to run twice."""

from io import StringIO

from django.core.management import call_command
from django.db.models import Count

from registry.audit import verify_chain
from registry.choices import DataClassification, Lifecycle, Pattern, Topology, UserKind
from registry.demo import demo_logins, lifecycle_targets, plan, release_keys
from registry.models import Agent, AgentVersion, AuditEvent, BusinessUnit, Tool, User
from registry.roles import Role


def test_the_plan_is_the_same_on_every_call_and_names_unique_keys():
    # given / when
    plan.cache_clear()
    first = [(p.key, p.owner, p.path, p.fields["autonomy_level"]) for p in plan()]
    plan.cache_clear()
    second = [(p.key, p.owner, p.path, p.fields["autonomy_level"]) for p in plan()]

    # then
    assert first == second
    assert len({key for key, *_ in first}) == len(first)
    assert set(release_keys()) <= set(lifecycle_targets())


def test_load_demo_builds_a_believable_enterprise_and_a_second_run_changes_nothing(db):
    # when
    out = StringIO()
    call_command("load_demo", stdout=out)

    # then: the size the issue asks for
    assert BusinessUnit.objects.count() >= 6
    assert BusinessUnit.objects.filter(parent__parent__isnull=False).exists()  # a real hierarchy
    assert User.objects.filter(kind=UserKind.PERSON).count() >= 40
    assert User.objects.filter(kind=UserKind.SERVICE).count() >= 2
    assert Agent.objects.count() >= 250
    assert Tool.objects.filter(supports_write=True).exists()
    assert Tool.objects.filter(supports_write=False).exists()
    assert AgentVersion.objects.filter(tool_grants__access="write").exists()

    # then: every value of the classification appears, and every agent reached its target
    def values(field):
        return set(Agent.objects.values_list(field, flat=True))

    assert values("pattern") == set(Pattern.values)
    assert values("lifecycle") == set(Lifecycle.values)
    assert values("autonomy_level") == {1, 2, 3, 4, 5}
    assert values("topology") == set(Topology.values)
    assert values("data_classification") == set(DataClassification.values)
    assert values("external_facing") == {True, False}
    targets = lifecycle_targets()
    assert all(targets[key] == state for key, state in Agent.objects.values_list("key", "lifecycle"))

    # then: every role has people, some agents are orphaned, and each agent has 1-3 versions
    for role in Role.values:
        assert User.objects.filter(groups__name=role, is_active=True).exists(), role
    assert Agent.objects.orphaned().exists()
    version_counts = set(Agent.objects.annotate(n=Count("versions")).values_list("n", flat=True))
    assert version_counts <= {1, 2, 3}

    # then: the printed logins work, and everything went through audited services
    for _role, username, password in demo_logins():
        assert User.objects.get(username=username).check_password(password), username
    assert AuditEvent.objects.filter(event_type="agent.created").count() == Agent.objects.count()
    assert verify_chain().ok

    # when: it runs again
    entries = AuditEvent.objects.count()
    out = StringIO()
    call_command("load_demo", stdout=out)

    # then: nothing changes, and it says so
    assert AuditEvent.objects.count() == entries
    assert "already loaded" in out.getvalue()
