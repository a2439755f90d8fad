"""Each role lands on its work after signing in; /governance/ answers; the administrators' overview."""

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.models import CheckRun, Finding, WebhookDelivery, WebhookEndpoint
from telemetry.models import TelemetrySource


@pytest.mark.parametrize(
    ("persona", "lands_on"),
    [
        ("owner", "/"),
        ("employee", "/"),
        ("board", "/governance/queue/"),
        ("leadership", "/portfolio/"),
        ("admin", "/governance/overview/"),
    ],
)
def test_each_role_lands_on_its_work_after_signing_in(client, persona, lands_on, request):
    # given
    user = request.getfixturevalue(persona)
    user.set_password("pass-for-landing-1")
    user.save()
    # when
    response = client.post(reverse("login"), {"username": user.username, "password": "pass-for-landing-1"})
    landing = client.get(response["Location"])
    # then
    assert response.status_code == 302
    assert landing.status_code == 302
    assert landing["Location"] == lands_on
    assert client.get(lands_on).status_code == 200


@pytest.mark.parametrize(
    ("persona", "goes_to"),
    [("owner", "/governance/owe/"), ("board", "/governance/queue/"), ("admin", "/governance/overview/")],
)
def test_governance_root_answers_with_the_readers_governance_page(client_for, persona, goes_to, request):
    response = client_for(request.getfixturevalue(persona)).get("/governance/")
    assert response.status_code == 302
    assert response["Location"] == goes_to


def test_the_board_queue_opens_with_its_counts(client_for, board, make_agent, owner, assess):
    # given: two assessments waiting for the board
    for key in ("hr.one", "hr.two"):
        assess(make_agent(key=key), confirm=False)
    # when
    html = client_for(board).get("/governance/queue/").content.decode()
    # then
    assert '<div class="stat" data-figure="waiting"><span class="value">2</span>' in html
    assert '<div class="stat" data-figure="assessment"><span class="value">2</span>' in html
    assert '<div class="stat" data-figure="decidable"><span class="value">2</span>' in html


def test_the_overview_shows_sources_failed_checks_and_failed_deliveries(client_for, admin, agent):
    # given
    now = timezone.now()
    TelemetrySource.objects.create(name="edge collector", kind="collector")
    CheckRun.objects.create(check_kind="control_gap", started_at=now, finished_at=now, status="succeeded")
    CheckRun.objects.create(
        check_kind="lapsed_monitoring", started_at=now, finished_at=now, status="failed", error="worker timed out"
    )
    finding = Finding.objects.create(kind="control_gap", severity="high", agent=agent, summary="gap", opened_at=now)
    endpoint = WebhookEndpoint.objects.create(name="pager", url="https://hooks.example.com/x", secret="s" * 32)
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        finding=finding,
        event="opened",
        payload={},
        status="failed",
        attempts=5,
        last_status_code=502,
        created_at=now,
    )
    # when
    response = client_for(admin).get("/governance/overview/")
    html = response.content.decode()
    # then
    assert response.status_code == 200
    assert "edge collector" in html
    assert '<a class="stat" href="#runs-h" data-figure="failed_runs"><span class="value">1</span>' in html
    assert "worker timed out" in html
    assert html.index('data-check="lapsed_monitoring"') < html.index('data-check="control_gap"')
    assert '<a class="stat" href="#deliveries-h" data-figure="failed_deliveries"><span class="value">1</span>' in html
    assert "HTTP 502" in html


def test_the_demo_shows_a_failed_delivery_on_the_overview_idempotently(client_for, admin, agent):
    # given: an open finding, as after the demo's first check run
    from io import StringIO

    from governance import demo

    Finding.objects.create(kind="control_gap", severity="high", agent=agent, summary="gap", opened_at=timezone.now())
    # when
    demo.operations_examples(StringIO())
    demo.operations_examples(StringIO())
    # then
    assert WebhookDelivery.objects.filter(status="failed").count() == 1
    html = client_for(admin).get("/governance/overview/").content.decode()
    assert "Incident pager (demo)" in html
    assert "HTTP 503" in html
