"""Findings pages and API: filters, history, the board's acknowledge and waive, the run-now button."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance import checks
from governance.choices import FindingKind
from governance.models import CheckRun, Finding
from registry.models import Agent, AuditEvent


@pytest.fixture
def finding(agent):
    Agent.objects.filter(pk=agent.pk).update(lifecycle="production", production_since=timezone.now())
    checks.run_check(FindingKind.NO_SUCCESS_METRIC)
    return Finding.objects.get()


def test_the_list_shows_open_findings_and_the_latest_runs(client_for, employee, finding):
    response = client_for(employee).get("/governance/findings/")
    assert response.status_code == 200
    assert b"No success metric" in response.content
    assert b"Latest check runs" in response.content
    resolved = client_for(employee).get("/governance/findings/", {"state": "resolved"})
    assert b"Leave assistant" not in resolved.content.split(b"<tbody>")[-1]


def test_a_board_member_acknowledges_and_waives(client_for, board, finding):
    client = client_for(board)
    client.post(f"/governance/findings/{finding.pk}/acknowledge/", {"note": "On it"})
    until = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/governance/findings/{finding.pk}/waive/", {"reason": "Metric agreed next quarter", "until": until})
    finding.refresh_from_db()
    assert finding.state(timezone.now()) == "waived"
    assert finding.resolved_at is None
    assert list(finding.events.values_list("kind", flat=True)) == ["opened", "acknowledged", "waived"]
    assert AuditEvent.objects.filter(event_type="finding.waived", actor=board).exists()
    page = client.get(f"/governance/findings/{finding.pk}/")
    assert b"Metric agreed next quarter" in page.content


def test_a_waiver_needs_a_reason_and_a_future_expiry(api_for, board, finding):
    response = api_for(board).post(
        f"/api/v1/findings/{finding.pk}/waive/", {"reason": " ", "until": timezone.now().isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) >= {"reason"}


@pytest.mark.parametrize("name", ["owner", "employee", "leadership", "admin"])
def test_only_the_board_acts_on_findings(client_for, api_for, persona, name, finding):
    user = persona(name)
    assert client_for(user).post(f"/governance/findings/{finding.pk}/acknowledge/").status_code == 403
    assert api_for(user).post(f"/api/v1/findings/{finding.pk}/acknowledge/", {}, format="json").status_code == 403


def test_shadow_findings_are_hidden_from_people_without_a_role(api_for, employee, leadership, admin, source):
    from telemetry.identity import identify
    from telemetry.ingest import Event, store_events

    store_events(
        source.pk,
        [
            Event(
                identity=identify("ghost.bot", None, None),
                environment="staging",
                kind="heartbeat",
                occurred_at=timezone.now(),
            )
        ],
    )
    checks.run_check(FindingKind.SHADOW_AGENT)
    assert api_for(employee).get("/api/v1/findings/").json()["count"] == 0
    assert api_for(leadership).get("/api/v1/findings/?kind=shadow_agent").json()["count"] == 1


def test_administrators_queue_the_checks(
    client_for, api_for, admin, owner, finding, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post("/governance/findings/run/")
    assert response.status_code == 302
    assert CheckRun.objects.filter(triggered_by=admin).count() >= 9
    assert AuditEvent.objects.filter(event_type="checks.requested", actor=admin).exists()
    assert client_for(owner).post("/governance/findings/run/").status_code == 403
    assert api_for(owner).post("/api/v1/check-runs/run/", {}, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            api_for(admin).post("/api/v1/check-runs/run/", {"check": "shadow_agent"}, format="json").status_code == 202
        )


def test_the_findings_api_lists_with_history(api_for, leadership, finding, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):
        body = api_for(leadership).get("/api/v1/findings/?state=open").json()
    [row] = body["results"]
    assert row["kind"] == "no_success_metric"
    assert row["agent"] == "hr.leave-assistant"
    assert row["events"][0]["kind"] == "opened"


def test_the_agent_page_lists_its_open_findings(client_for, owner, finding):
    response = client_for(owner).get(f"/agents/{finding.agent.key}/")
    assert b"Open findings" in response.content
    assert finding.summary.encode() in response.content


def test_the_list_puts_the_most_serious_first_then_the_oldest(client_for, board, make_agent):
    # given
    now = timezone.now()
    agents = [make_agent(key=f"hr.sorted-{i}") for i in range(4)]
    rows = [
        ("low", 30, agents[0]),
        ("critical", 1, agents[1]),
        ("high", 2, agents[2]),
        ("critical", 5, agents[3]),
    ]
    for severity, days, agent in rows:
        Finding.objects.create(
            kind="control_gap",
            severity=severity,
            agent=agent,
            summary=f"{severity} {days}d",
            opened_at=now - timedelta(days=days),
        )
    # when
    page = client_for(board).get("/governance/findings/")
    # then
    assert [f.summary for f in page.context["page"]] == ["critical 5d", "critical 1d", "high 2d", "low 30d"]
    newest = client_for(board).get("/governance/findings/", {"sort": "newest"})
    assert [f.summary for f in newest.context["page"]][0] == "critical 1d"


def test_the_filters_show_every_option_as_a_checkbox(client_for, board):
    html = client_for(board).get("/governance/findings/").content.decode()
    for kind in ("shadow_agent", "orphaned_owner", "incident_report_due"):
        assert f'type="checkbox" name="kind" value="{kind}"' in html
    assert '<select name="kind"' not in html
    assert "<legend>Severity</legend>" in html
    catalog = client_for(board).get("/agents/").content.decode()
    for name, value in (("pattern", "ai_first"), ("risk_tier", "unassessed"), ("lifecycle", "retired")):
        assert f'type="checkbox" name="{name}" value="{value}"' in catalog
    assert "multiple" not in catalog
