"""The telemetry demo: idempotent, writes every state, and the live sender posts through HTTP.

The registry demo itself (267 agents) is too slow to build here; a few of its planned
agents are registered by hand instead, under the keys the plan gives them.
"""

import io

import pytest
from django.core.management import call_command

from registry.demo_data import ADMIN_USERNAME
from registry.roles import Role
from telemetry import demo
from telemetry.models import (
    DailyEvaluation,
    DailyUsage,
    ExternalIdentity,
    MonitoringState,
    RejectedItem,
    RejectionCount,
    Sighting,
    TelemetryEvent,
    TelemetrySource,
)
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_the_demo_sends_telemetry_and_the_live_sender_posts_heartbeats(live_server, make_agent, admin):
    # given the demo's administrator and some of its running agents
    from registry import services as registry_services

    demo_admin = UserFactory(username=ADMIN_USERNAME)
    registry_services.set_user_roles(demo_admin, [Role.PLATFORM_ADMIN], actor=None)
    keys = [key for key, _ in demo.running_plan()]
    silent = sorted(demo.silent_keys())[0]
    for key in [*keys[:4], silent]:
        make_agent(key)
    # when the telemetry demo runs twice
    out = io.StringIO()
    demo.build(out)
    demo.build(out)
    # then usage, sightings, shadow agents and an external marking exist, once
    assert "skipped" in out.getvalue()
    assert DailyUsage.objects.count() > 100
    assert Sighting.objects.filter(agent__isnull=True).values("identity").distinct().count() == len(demo.SHADOWS)
    assert Sighting.objects.filter(identity="Expense checker@finance-api").exists()
    assert ExternalIdentity.objects.filter(identity=demo.EXTERNAL).exists()
    # and the collector shows labels read through its own table, an unlabelled run, and what it rejected
    collector = TelemetrySource.objects.get(name=demo.COLLECTOR)
    assert collector.environment_aliases == {"blue-*": "production"}
    assert Sighting.objects.filter(source=collector, environment="production", environment_label="blue-eu").exists()
    assert Sighting.objects.filter(source=collector, environment="unspecified", environment_label="").exists()
    assert RejectionCount.objects.get(source=collector, reason="unattributed").count == 2
    assert RejectedItem.objects.filter(source=collector).count() == 4
    silent_state = MonitoringState.objects.get(agent__key=silent)
    fresh_state = MonitoringState.objects.get(agent__key=keys[0])
    assert silent_state.last_seen_at < fresh_state.last_seen_at
    # and the reporting agents' tool calls and evaluation results, with one agent calling what nothing grants
    assert DailyEvaluation.objects.filter(agent__key=keys[0], name="relevance").count() >= 28
    assert not DailyEvaluation.objects.filter(agent__key=silent).exists()
    # and the live sender posts a batch of heartbeats through the endpoint
    before = TelemetryEvent.objects.count()
    sent = io.StringIO()
    call_command("send_demo_telemetry", "--once", "--url", live_server.url, stdout=sent)
    assert "accepted" in sent.getvalue()
    assert TelemetryEvent.objects.count() > before


def test_the_demo_deadlines_follow_the_backdated_lifecycle_dates(make_agent):
    from datetime import timedelta

    from django.utils import timezone

    from governance import checks
    from governance.models import Finding
    from registry.models import Agent
    from telemetry import hooks, services

    # given an agent the demo moved into pilot today (the lifecycle hook set its deadline from today)
    agent = make_agent("demo.never-reports")
    Agent.objects.filter(pk=agent.pk).update(lifecycle="pilot", lifecycle_changed_at=timezone.now())
    agent.refresh_from_db()
    services.refresh_agent_deadline(agent)
    # and whose lifecycle date the demo then spread into the past, behind the hook
    entered = timezone.now() - timedelta(days=30)
    Agent.objects.filter(pk=agent.pk).update(lifecycle_changed_at=entered)
    # when the demo settles the deadlines
    demo.settle_deadlines(io.StringIO())
    # then its deadline follows the backdated date, and the never-reporting pilot shows as lapsed
    window = hooks.monitoring_window(agent.risk_tier, "pilot")
    assert MonitoringState.objects.get(agent=agent).deadline_at == entered + window
    checks.run_check("lapsed_monitoring")
    assert Finding.objects.open().filter(kind="lapsed_monitoring", agent=agent).exists()
