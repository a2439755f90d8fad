"""Telemetry services: sources and tokens, identities, monitoring deadlines and the purge."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from registry import services as registry_services
from registry.models import Agent, AuditEvent
from telemetry import hooks
from telemetry import services as telemetry_services
from telemetry.identity import identify
from telemetry.ingest import Event, store_events
from telemetry.models import ExternalIdentity, IdentityAlias, MonitoringState, Sighting, TelemetryEvent


def _report(source, identity_value, when, environment="production", **kw):
    identity = identify(identity_value, kw.pop("name", None), kw.pop("service", None))
    return store_events(
        source.pk, [Event(identity=identity, environment=environment, kind="heartbeat", occurred_at=when)]
    )


def test_creating_a_source_shows_its_token_once_and_stores_only_a_digest(admin):
    # when
    source, raw = telemetry_services.create_source(actor=admin, name="Collector", kind="collector")
    # then
    token = source.tokens.get()
    assert raw.startswith("ing_")
    assert token.digest == telemetry_services.hash_token(raw)
    assert raw not in token.digest
    assert token.prefix == raw[:12]
    assert AuditEvent.objects.filter(event_type="telemetry_source.created", target_id=str(source.pk)).exists()
    assert AuditEvent.objects.filter(event_type="ingest_token.created", after__prefix=token.prefix).exists()


def test_only_administrators_manage_sources(board, owner):
    for person in (board, owner):
        with pytest.raises(PermissionDenied):
            telemetry_services.create_source(actor=person, name="Mine", kind="gateway")


def test_a_duplicate_source_name_is_a_field_error(admin, source):
    with pytest.raises(ValidationError) as exc:
        telemetry_services.create_source(actor=admin, name=source.name, kind="gateway")
    assert "name" in exc.value.message_dict


def test_registering_an_agent_claims_what_telemetry_saw_under_its_key(source, make_agent):
    # given a shadow identity
    _report(source, "finance.invoice-bot", timezone.now() - timedelta(hours=1))
    assert Sighting.objects.get().agent is None
    # when it is registered under that key
    agent = make_agent("finance.invoice-bot")
    # then its sightings and last report belong to it
    assert Sighting.objects.get().agent == agent
    assert MonitoringState.objects.get(agent=agent).last_seen_at is not None


def test_linking_an_identity_makes_it_an_alias_and_claims_its_sightings(source, agent, board):
    # given
    _report(source, None, timezone.now(), name="Leave helper", service="hr-portal")
    # when
    alias = telemetry_services.link_identity("Leave helper@hr-portal", agent, actor=board)
    # then
    assert Sighting.objects.get().agent == agent
    assert AuditEvent.objects.filter(event_type="identity_alias.created", agent=agent).exists()
    # and later reports under the alias land on the agent directly
    _report(source, None, timezone.now(), name="Leave helper", service="hr-portal", environment="staging")
    assert set(Sighting.objects.values_list("agent", flat=True)) == {agent.pk}
    assert str(alias) == "Leave helper@hr-portal → hr.leave-assistant"


def test_linking_refuses_another_agents_key_and_outsiders(agent, make_agent, board, outsider):
    make_agent("hr.other-bot")
    with pytest.raises(ValidationError):
        telemetry_services.link_identity("hr.other-bot", agent, actor=board)
    with pytest.raises(PermissionDenied):
        telemetry_services.link_identity("some.bot", agent, actor=outsider)
    assert not IdentityAlias.objects.exists()


def test_marking_an_identity_external_needs_a_reason_and_a_future_expiry(board, employee):
    with pytest.raises(ValidationError) as exc:
        telemetry_services.mark_identity_external("vendor.bot", actor=board, reason="", expires_at=timezone.now())
    assert set(exc.value.message_dict) == {"reason", "expires_at"}
    with pytest.raises(PermissionDenied):
        telemetry_services.mark_identity_external(
            "vendor.bot", actor=employee, reason="x", expires_at=timezone.now() + timedelta(days=1)
        )
    row = telemetry_services.mark_identity_external(
        "vendor.bot", actor=board, reason="Vendor's support bot", expires_at=timezone.now() + timedelta(days=90)
    )
    assert ExternalIdentity.objects.current(timezone.now()).get() == row
    assert AuditEvent.objects.filter(event_type="identity.marked_external").count() == 1


def test_deadlines_follow_tier_and_lifecycle(source, agent, owner, board):
    with time_machine.travel("2026-03-02T12:00:00Z", tick=False):
        # given a high-risk agent in pilot that reported an hour ago
        registry_services.set_agent_risk_tier(agent, "high", actor=None)
        Agent.objects.filter(pk=agent.pk).update(
            lifecycle="pilot", lifecycle_changed_at=timezone.now() - timedelta(days=10)
        )
        _report(source, agent.key, timezone.now() - timedelta(hours=1))
        state = MonitoringState.objects.get(agent=agent)
        # then it has 48 hours from its last report
        assert state.deadline_at == timezone.now() - timedelta(hours=1) + timedelta(hours=48)
        assert state.status(timezone.now(), "pilot") == "reporting"
        # when it moves to production and its tier to critical
        Agent.objects.filter(pk=agent.pk).update(lifecycle="production")
        registry_services.set_agent_risk_tier(agent, "critical", actor=None)
        telemetry_services.refresh_monitoring_deadlines()
        # then the critical production window (1 hour) applies from the later of its report and the move
        state.refresh_from_db()
        assert state.deadline_at == timezone.now() - timedelta(hours=1) + timedelta(hours=1)
        assert state.status(timezone.now() + timedelta(minutes=1), "production") == "lapsed"


def test_a_registered_window_provider_overrides_the_defaults(monkeypatch):
    monkeypatch.setattr(hooks, "monitoring_window_provider", [lambda: {"low": {"production": timedelta(days=1)}}])
    assert hooks.monitoring_window("low", "production") == timedelta(days=1)
    assert hooks.monitoring_window("low", "pilot") == timedelta(days=14)
    assert hooks.monitoring_window("", "production") == timedelta(hours=72)
    assert hooks.monitoring_window("high", "proposed") is None


def test_refreshing_deadlines_creates_state_for_watched_agents_that_never_reported(
    agent, django_assert_max_num_queries
):
    # given
    Agent.objects.filter(pk=agent.pk).update(lifecycle="production")
    agent.refresh_from_db()
    # when
    with django_assert_max_num_queries(25):
        telemetry_services.refresh_monitoring_deadlines()
    # then
    state = MonitoringState.objects.get(agent=agent)
    assert state.last_seen_at is None
    assert state.deadline_at == agent.lifecycle_changed_at + timedelta(hours=72)


def test_the_purge_deletes_only_events_past_retention(source, settings):
    settings.TELEMETRY_RETENTION_DAYS = 30
    now = timezone.now()
    _report(source, "a.bot", now - timedelta(days=29))
    _report(source, "b.bot", now - timedelta(days=1))
    with time_machine.travel(now + timedelta(days=2), tick=False):
        result = telemetry_services.purge_old_events(batch_size=1)
    # PostgreSQL drops a.bot's whole day (and any other expired day); SQLite deletes the row
    assert result.rows_deleted + result.partitions_dropped >= 1
    assert list(TelemetryEvent.objects.values_list("identity", flat=True)) == ["b.bot"]
    assert Sighting.objects.count() == 2  # what the checks read stays
