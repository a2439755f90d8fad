"""The demo portfolio (``manage.py load_demo``): believable coverage, a real audit trail, safe to run twice."""

import importlib.util
from io import StringIO

from django.core.management import call_command
from django.db.models import Count

from registry import hooks
from registry.audit import verify_chain
from registry.choices import DataClassification, Lifecycle, Pattern, Topology, UserKind
from registry.demo import DEMO_CARD_KEY, DEMO_SHORT_KEY, demo_logins, lifecycle_targets, plan, release_keys
from registry.models import Agent, AgentVersion, AuditEvent, BusinessUnit, Tool, User
from registry.roles import Role

# The registry's own audit nouns; upper layers' demos answer for their own idempotence.
REGISTRY_NOUNS = {"agent", "version", "user", "business_unit", "tool"}


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

    # then: the agent registered from a signed card (a newer card waiting) and the short-form one
    from_card = Agent.objects.get(key=DEMO_CARD_KEY)
    assert from_card.card.signature == "verified"
    assert from_card.card.pending_card is not None
    assert len(from_card.capabilities) == 2
    assert Agent.objects.get(key=DEMO_SHORT_KEY).topology == ""
    # and a shadow agent whose claim form has tools and an MCP server to show
    from telemetry.models import UnregisteredToolUse

    seen = set(UnregisteredToolUse.objects.filter(identity="marketing.copy-helper").values_list("tool_name", flat=True))
    assert seen == {"confluence-search", "search_employees", "web_search"}
    planned = Agent.objects.exclude(key__in=[DEMO_CARD_KEY, DEMO_SHORT_KEY])

    # then: every value of the classification appears, and every agent reached its target
    def values(field):
        return set(planned.values_list(field, flat=True))

    assert values("pattern") == set(Pattern.values)
    # Production (and suspended after it) passes governance's release gate, which
    # governance's demo prepares; until that demo exists the gate holds them back.
    gate_prepared = importlib.util.find_spec("governance.demo") is not None or not hooks.transition_guards
    before_gate = {Lifecycle.PROPOSED, Lifecycle.IN_REVIEW, Lifecycle.APPROVED, Lifecycle.PILOT, Lifecycle.RETIRED}
    assert values("lifecycle") >= before_gate
    if gate_prepared:
        assert values("lifecycle") == set(Lifecycle.values)
    assert values("autonomy_level") == {1, 2, 3, 4, 5}
    assert values("topology") == set(Topology.values)
    assert values("data_classification") == set(DataClassification.values)
    assert values("external_facing") == {True, False}
    targets = lifecycle_targets()
    short = {key for key, state in planned.values_list("key", "lifecycle") if targets[key] != state}
    if gate_prepared:
        assert short == set()
    else:
        assert short <= set(release_keys())

    # then: every role has people, some agents are orphaned, and each agent has 1-3 versions
    for role in Role.values:
        assert User.objects.filter(groups__name=role, is_active=True).exists(), role
    assert Agent.objects.orphaned().exists()
    version_counts = set(planned.annotate(n=Count("versions")).values_list("n", flat=True))
    assert version_counts <= {1, 2, 3}

    # then: the printed logins work, and everything went through audited services
    for _role, username, password in demo_logins():
        assert User.objects.get(username=username).check_password(password), username
    assert AuditEvent.objects.filter(event_type="agent.created").count() == Agent.objects.count()
    assert verify_chain().ok

    # when: it runs again
    entries = AuditEvent.objects.count()  # entries are gapless, numbered from 1
    out = StringIO()
    call_command("load_demo", stdout=out)

    # then: nothing changes, and it says so
    added = [
        (event_type, target)
        for event_type, target in AuditEvent.objects.order_by("seq")[entries:].values_list("event_type", "target_repr")
        if event_type.split(".")[0] in REGISTRY_NOUNS
    ]
    assert added == []
    assert "already loaded" in out.getvalue()
