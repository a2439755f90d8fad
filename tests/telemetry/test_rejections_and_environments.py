"""What a source rejected, shown on its page and in the API; its environment table, edited by
administrators (audited); the telemetry_rejected finding; the raw label beside the mapped environment."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from governance import checks
from governance.models import Finding
from registry.models import AuditEvent
from telemetry import ingest as ingest_module
from telemetry import services as telemetry_services
from telemetry.environments import DEFAULT_TABLE, table_for
from telemetry.ingest import REJECTED_ITEMS_KEPT
from telemetry.models import IngestDay, RejectedItem, Sighting


@pytest.fixture
def frozen():
    with time_machine.travel("2026-03-02T12:00:00Z", tick=False) as traveller:
        yield traveller


def event(**fields):
    return {"agent": "hr.leave-assistant", "timestamp": "2026-03-02T11:00:00Z", "kind": "invocation", **fields}


@pytest.mark.parametrize(
    ("label", "environment"),
    [
        (None, "unspecified"),
        ("", "unspecified"),
        ("prod", "production"),
        ("PRD", "production"),
        ("live", "production"),
        ("production-eu", "production"),
        ("prod-eu", "production"),
        ("uat", "staging"),
        ("qa", "staging"),
        ("test", "staging"),
        ("preprod", "staging"),
        ("staging-2", "staging"),
        ("dev", "development"),
        ("development-alice", "development"),
        ("local", "development"),
        ("sandbox", "development"),
        ("moon", "unspecified"),
        (42, "unspecified"),
    ],
)
def test_the_default_table_reads_common_labels(label, environment):
    assert DEFAULT_TABLE.resolve(label)[0] == environment


def test_a_source_table_is_read_before_the_defaults_and_unknown_labels_are_kept_raw(source, admin):
    source = telemetry_services.update_source(
        source, actor=admin, default_environment="development", environment_aliases={"test": "development"}
    )
    table = table_for(source)
    assert table.resolve("test") == ("development", "test")
    assert table.resolve(None) == ("development", "")
    assert table.resolve("Mars-1") == ("unspecified", "Mars-1")


def test_an_administrator_edits_a_source_environments_audited(client_for, admin, source):
    # when
    response = client_for(admin).post(
        f"/telemetry/sources/{source.pk}/",
        {"environments": "1", "default_environment": "staging", "aliases": "Blue-* = production\nlab = development"},
    )
    # then
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.default_environment == "staging"
    assert source.environment_aliases == {"blue-*": "production", "lab": "development"}
    entry = AuditEvent.objects.filter(event_type="telemetry_source.changed").latest("id")
    assert entry.after["environment_aliases"] == {"blue-*": "production", "lab": "development"}
    assert entry.before["default_environment"] == "unspecified"


def test_a_bad_alias_is_a_form_error_and_nothing_changes(client_for, admin, source):
    response = client_for(admin).post(
        f"/telemetry/sources/{source.pk}/",
        {"environments": "1", "default_environment": "staging", "aliases": "blue = moon"},
    )
    assert response.status_code == 200
    assert "maps to &#x27;moon&#x27;" in response.content.decode()
    source.refresh_from_db()
    assert (source.default_environment, source.environment_aliases) == ("unspecified", {})


def test_the_api_refuses_a_bad_alias_table_field_by_field(api_for, admin, source):
    response = api_for(admin).patch(
        f"/api/v1/telemetry/sources/{source.pk}/", {"environment_aliases": {"x": "moon"}}, format="json"
    )
    assert response.status_code == 400
    assert "environment_aliases" in response.json()


def test_the_source_page_shows_rejections_per_day_and_reason_and_the_items(
    frozen, client_for, admin, board, source, ingest, agent
):
    # given a batch with one good event and two refused ones
    ingest([event(environment="prod"), event(timestamp="soon"), event(agent=None)])
    # when the board opens the source page
    page = client_for(board).get(f"/telemetry/sources/{source.pk}/").content.decode()
    # then the day, its share and its reasons are there, with each item as sent
    assert "2 Mar 2026" in page
    assert "66.7%" in page
    assert "Time outside the accepted range" in page
    assert "No agent identity" in page
    assert "&#x27;timestamp&#x27;: &#x27;soon&#x27;" in page
    # and the sighting shows the raw label beside the mapped environment
    assert "sent as <code>prod</code>" in page
    # and the API says the same
    body = client_for(admin).get(f"/api/v1/telemetry/sources/{source.pk}/rejections/").json()
    assert body["days"] == [{"day": "2026-03-02", "received": 3, "rejected": 2, "rejected_share": 2 / 3}]
    assert {r["reason"]: r["count"] for r in body["reasons"]} == {"bad_time": 1, "no_identity": 1}
    assert {i["payload"].get("timestamp") for i in body["items"]} == {"soon", "2026-03-02T11:00:00Z"}


def test_a_day_of_intake_spread_over_its_parts_reads_as_one_day(
    frozen, client_for, admin, board, source, ingest, agent, monkeypatch
):
    # given a busy source whose requests add to different parts of the day (so none waits on another)
    parts = iter(range(100))
    monkeypatch.setattr(ingest_module.random, "randrange", lambda n: next(parts) % n)
    for _ in range(3):
        ingest([event(), event(timestamp="soon")])
    ingest([event(timestamp="later")])
    assert IngestDay.objects.filter(source=source).count() == 4
    # then the page, the API and the check all read the one day: 7 received, 4 refused
    assert [(d["received"], d["rejected"]) for d in IngestDay.objects.filter(source=source).totals()] == [(7, 4)]
    assert "57.1%" in client_for(board).get(f"/telemetry/sources/{source.pk}/").content.decode()
    body = client_for(admin).get(f"/api/v1/telemetry/sources/{source.pk}/rejections/").json()
    assert body["days"] == [{"day": "2026-03-02", "received": 7, "rejected": 4, "rejected_share": 4 / 7}]
    wanted = checks.telemetry_rejected(timezone.now())
    assert [w.details["received"] for w in wanted.values()] == [7]


def test_only_the_last_50_rejected_items_are_kept(frozen, ingest, source, agent):
    ingest([event(timestamp="later") for _ in range(40)])
    ingest([event(timestamp=f"later {n}") for n in range(30)])
    assert RejectedItem.objects.filter(source=source).count() == REJECTED_ITEMS_KEPT
    assert RejectedItem.objects.filter(source=source, payload__timestamp="later 29").exists()
    assert [d["rejected"] for d in IngestDay.objects.filter(source=source).totals()] == [70]


def test_the_sightings_api_shows_and_filters_the_raw_label(frozen, api_for, admin, ingest, agent):
    ingest([event(environment="uat"), event(environment="Moon-Base", agent="shadow.bot")])
    client = api_for(admin)
    rows = client.get("/api/v1/telemetry/sightings/", {"environment": "unspecified"}).json()["results"]
    assert [(r["identity"], r["environment"], r["environment_label"]) for r in rows] == [
        ("shadow.bot", "unspecified", "Moon-Base")
    ]
    rows = client.get("/api/v1/telemetry/sightings/", {"environment_label": "UAT"}).json()["results"]
    assert [(r["identity"], r["environment"]) for r in rows] == [("hr.leave-assistant", "staging")]


def test_telemetry_rejected_opens_past_the_share_and_resolves_when_it_falls(frozen, ingest, source, agent):
    # given 1 refused of 20 (5%: not more than the share)
    ingest([event(event_id=str(n)) for n in range(19)] + [event(timestamp="never")])
    checks.run_check("telemetry_rejected")
    assert not Finding.objects.filter(kind="telemetry_rejected").exists()
    # when one more is refused (2 of 21)
    ingest([event(timestamp="never")])
    checks.run_check("telemetry_rejected")
    # then
    finding = Finding.objects.get(kind="telemetry_rejected", resolved_at__isnull=True)
    assert finding.identity == f"telemetry source: {source.name}"
    assert (finding.severity, finding.details["received"], finding.details["rejected"]) == ("medium", 21, 2)
    # and it resolves two days on, when neither today nor yesterday is over the share
    frozen.shift(timedelta(days=2))
    checks.run_check("telemetry_rejected")
    finding.refresh_from_db()
    assert finding.resolved_at is not None


def test_the_check_reads_only_the_small_table(frozen, ingest, agent, django_assert_max_num_queries):
    ingest([event(timestamp="never")])
    with django_assert_max_num_queries(1):
        wanted = checks.telemetry_rejected(timezone.now())
    assert len(wanted) == 1


def test_the_unknown_agents_page_filters_unspecified_and_the_label(frozen, client_for, board, ingest):
    ingest([event(agent="shadow.one", environment="moon"), event(agent="shadow.two", environment="prod")])
    page = client_for(board).get("/telemetry/unknown-agents/", {"environment": "unspecified"}).content.decode()
    assert "shadow.one" in page
    assert "shadow.two" not in page
    page = client_for(board).get("/telemetry/unknown-agents/", {"label": "PROD"}).content.decode()
    assert "shadow.two" in page
    assert "shadow.one" not in page
    assert set(Sighting.objects.values_list("environment_label", flat=True)) == {"moon", "prod"}


def test_the_trace_window_task_is_scheduled_and_runs(settings, source):
    from telemetry import tasks
    from telemetry.models import PendingSpan

    # given a child held longer than the window
    PendingSpan.objects.create(
        source=source,
        trace_id="a" * 32,
        span_id="b" * 16,
        waiting_for="c" * 16,
        kind="tool_call",
        occurred_at=timezone.now(),
        received_at=timezone.now() - timedelta(minutes=16),
        environment="unspecified",
        payload={"name": "execute_tool lookup"},
    )
    # when beat's task runs
    assert settings.CELERY_BEAT_SCHEDULE["telemetry-close-trace-window"]["task"] == "telemetry.close_trace_window"
    result = tasks.close_trace_window.delay().get()
    # then
    assert result == {"attributed": 0, "unattributed": 1, "forgotten_owners": 0}
    assert RejectedItem.objects.get(source=source).reason == "unattributed"


def test_a_large_or_nul_bearing_item_is_refused_or_kept_never_a_500(frozen, ingest, source, agent):
    # given a batch with a good event, a refused one carrying 30,000 characters, a tool name with a NUL
    # and a label with a NUL
    big = event(kind="bogus", note="x" * 30000)
    nul_tool = event(kind="tool_call", tool="look\x00up")
    response = ingest([event(), big, nul_tool, event(environment="prod\x00uction")])
    # then the good events are stored and the two refusals counted and kept
    assert response.status_code in (200, 207)
    assert Sighting.objects.filter(environment_label="production").exists()
    assert [d["rejected"] for d in IngestDay.objects.filter(source=source).totals()] == [2]
    assert list(RejectedItem.objects.filter(source=source).values_list("reason", flat=True)) == ["invalid_field"] * 2
    kept = [item.payload for item in RejectedItem.objects.filter(source=source)]
    assert any(payload.get("truncated") for payload in kept)
    assert any("tool" in item.message for item in RejectedItem.objects.filter(source=source))
