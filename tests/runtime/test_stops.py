"""The stop switch: who may stop and lift, what a stop covers, that it changes no history, the signed
webhook, and the pages that show it."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from governance.models import WebhookDelivery, WebhookEndpoint
from registry import services as registry_services
from registry.models import Agent, AuditEvent, McpServer, Stop
from tests.factories import BusinessUnitFactory
from tests.runtime.fixtures import ask

pytestmark = pytest.mark.django_db


def code(response):
    return response.json()["context"]["reason_code"]


@pytest.mark.parametrize("who", ["owner", "delegate", "board", "admin"])
def test_the_owner_delegates_board_and_admins_may_stop_an_agent(request, decide, released, who):
    actor = request.getfixturevalue(who)

    stop = registry_services.stop_agent(released, actor=actor, reason="Sending wrong answers")

    assert stop.in_force
    assert code(decide(ask(released.key))) == "stopped"
    event = AuditEvent.objects.get(event_type="stop.started")
    assert event.agent_id == released.pk
    assert event.after["reason"] == "Sending wrong answers"


@pytest.mark.parametrize("who", ["employee", "outsider", "leadership", "service_account"])
def test_others_may_not_stop_an_agent(request, released, who):
    with pytest.raises(PermissionDenied):
        registry_services.stop_agent(released, actor=request.getfixturevalue(who), reason="x")
    assert not Stop.objects.exists()


def test_a_stop_needs_a_reason_and_one_stop_per_target(released, owner):
    with pytest.raises(ValidationError) as missing:
        registry_services.stop_agent(released, actor=owner, reason="  ")
    assert "reason" in missing.value.message_dict
    registry_services.stop_agent(released, actor=owner, reason="first")
    with pytest.raises(ValidationError) as twice:
        registry_services.stop_agent(released, actor=owner, reason="second")
    assert "already stopped" in twice.value.message_dict["target"][0]


def test_lifting_needs_board_or_admin_and_restores_the_exact_previous_state(decide, released, owner, board):
    # given
    before = Agent.objects.values().get(pk=released.pk)
    stop = registry_services.stop_agent(released, actor=owner, reason="Incident 42")

    # when the owner tries to lift, then the board lifts
    with pytest.raises(PermissionDenied):
        registry_services.lift_stop(stop, actor=owner, reason="fixed")
    with pytest.raises(ValidationError):
        registry_services.lift_stop(stop, actor=board, reason="")
    registry_services.lift_stop(stop, actor=board, reason="Root cause fixed")

    # then the agent row never changed and decisions are back
    assert Agent.objects.values().get(pk=released.pk) == before
    assert code(decide(ask(released.key))) == "allowed"
    stop.refresh_from_db()
    assert stop.lifted_by == board
    assert stop.lift_reason == "Root cause fixed"
    assert AuditEvent.objects.filter(event_type="stop.lifted", agent=released).exists()


def test_a_database_constraint_keeps_one_stop_in_force_per_agent(released, owner):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    Stop.objects.create(scope="agent", agent=released, reason="a", started_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Stop.objects.create(scope="agent", agent=released, reason="b", started_at=timezone.now())


# --- Wider stops -----------------------------------------------------------------------------------


def test_a_business_unit_stop_covers_its_agents_and_sub_units_only(decide, released, board, unit, other_unit):
    sub = BusinessUnitFactory(name="Payroll", slug="payroll", parent=unit)
    registry_services.start_stop("business_unit", unit.parent, actor=board, reason="Group-wide freeze")
    assert code(decide(ask(released.key))) == "stopped"  # hr is under group
    stop = Stop.objects.get()
    registry_services.lift_stop(stop, actor=board, reason="over")
    registry_services.start_stop("business_unit", other_unit, actor=board, reason="Finance only")
    assert code(decide(ask(released.key))) == "allowed"
    registry_services.start_stop("business_unit", sub, actor=board, reason="Payroll only")
    assert code(decide(ask(released.key))) == "allowed"


def test_a_pattern_stop_covers_every_agent_of_the_pattern(decide, released, board):
    registry_services.start_stop("pattern", "core_process", actor=board, reason="x")
    assert code(decide(ask(released.key))) == "allowed"
    registry_services.start_stop("pattern", released.pattern, actor=board, reason="Pattern under review")
    body = decide(ask(released.key)).json()
    assert body["decision"] is False
    assert "pattern employee_enablement" in body["context"]["reason_admin"]["en"]


def test_a_tool_stop_refuses_every_use_of_the_tool_but_not_the_agent_s_other_tools(
    decide, released, board, tool, write_tool
):
    registry_services.start_stop("tool", write_tool, actor=board, reason="Vendor breach")

    def call(t, access):
        return ask(released.key, access, {"type": "tool", "id": t.key}, environment="production")

    assert code(decide(call(write_tool, "write"))) == "stopped"
    assert code(decide(call(tool, "read"))) == "allowed"
    assert code(decide(ask(released.key))) == "allowed"  # running the agent itself


def test_an_mcp_server_stop_refuses_every_tool_of_that_server(decide, agent, owner, board, put_in):
    from tests.factories import ToolFactory

    server = McpServer.objects.create(
        approved_at=timezone.now(),
        key="files-mcp",
        name="Files",
        url="https://files.example/mcp",
        host="files.example",
        owner=owner,
        business_unit=agent.business_unit,
    )
    read = ToolFactory(
        key="files.read", name="Read file", mcp_server=server, mcp_name="read_file", mcp_approved_at=timezone.now()
    )
    version = registry_services.create_version(
        agent, actor=owner, tools=[(read, "read")], label="1", model_provider="x", model_name="y"
    )
    put_in(agent, "production", version)
    body = ask(agent.key, "read", {"type": "mcp_tool", "id": "files-mcp/read_file"}, environment="production")
    assert code(decide(body)) == "allowed"

    registry_services.start_stop("mcp_server", server, actor=board, reason="Compromised server")

    assert code(decide(body)) == "stopped"


@pytest.mark.parametrize("who", ["owner", "delegate", "employee"])
def test_wider_stops_are_for_the_board_and_admins(request, unit, who):
    with pytest.raises(PermissionDenied):
        registry_services.start_stop("business_unit", unit, actor=request.getfixturevalue(who), reason="x")


# --- Webhook --------------------------------------------------------------------------------------


def test_stopping_queues_a_signed_agent_stopped_webhook_sent_after_commit(
    released, owner, admin, django_capture_on_commit_callbacks, monkeypatch
):
    from governance import notifications

    WebhookEndpoint.objects.create(name="SOC", url="https://soc.example/hook", secret="s3cret", created_by=admin)
    sent = []

    def fake_urlopen(req, timeout):
        sent.append(req)

        class Response:
            status = 204

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        return Response()

    monkeypatch.setattr(notifications.urllib.request, "urlopen", fake_urlopen)

    with django_capture_on_commit_callbacks(execute=True):
        registry_services.stop_agent(released, actor=owner, reason="Leaking data")

    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "agent.stopped"
    assert delivery.status == "delivered"
    body = sent[0].data
    assert json.loads(body)["stop"]["agent"] == released.key
    assert sent[0].headers["X-signature-256"] == notifications.sign("s3cret", body)


# --- Pages ----------------------------------------------------------------------------------------


def test_the_agent_page_stops_and_shows_the_stop(client_for, released, owner, board):
    page = client_for(owner).get(f"/agents/{released.key}/")
    assert b"Stop this agent now" in page.content

    response = client_for(owner).post(f"/agents/{released.key}/stop/", {"reason": "Wrong refunds"})

    assert response.status_code == 302
    page = client_for(owner).get(f"/agents/{released.key}/")
    assert b"Wrong refunds" in page.content
    assert b"Lift the stop" not in page.content
    assert b"Lift the stop" in client_for(board).get(f"/agents/{released.key}/").content


def test_the_catalog_badges_and_filters_stopped_agents(client_for, released, make_agent, owner, board):
    other = make_agent("hr.other-bot", name="Other bot")
    registry_services.start_stop("pattern", released.pattern, actor=board, reason="x")
    registry_services.lift_stop(Stop.objects.get(), actor=board, reason="y")
    registry_services.stop_agent(released, actor=owner, reason="z")

    stopped = client_for(owner).get("/agents/", {"stopped": "true"})
    running = client_for(owner).get("/agents/", {"stopped": "false"})

    assert released.name.encode() in stopped.content
    assert other.name.encode() not in stopped.content
    assert b"Stopped" in stopped.content
    assert other.name.encode() in running.content
    assert released.name.encode() not in running.content


def test_the_stops_page_starts_and_lifts_wider_stops_for_the_board_only(client_for, board, owner, unit, released):
    assert (
        client_for(owner).post("/stops/", {"scope": "business_unit", "target": "hr", "reason": "x"}).status_code == 403
    )
    bad = client_for(board).post("/stops/", {"scope": "tool", "target": "no.such-tool", "reason": "x"})
    assert bad.status_code == 200
    assert b"No tool has the key" in bad.content

    client_for(board).post("/stops/", {"scope": "business_unit", "target": "hr", "reason": "Audit"})

    stop = Stop.objects.get()
    page = client_for(owner).get("/stops/")
    assert b"Human Resources" in page.content
    assert b"Audit" in page.content
    assert b"is stopped" not in page.content
    assert b"Stopped" in client_for(owner).get(f"/agents/{released.key}/").content
    assert released.name.encode() in client_for(owner).get("/agents/", {"stopped": "true"}).content
    unit_page = client_for(owner).get("/agents/", {"business_unit": "hr"}).content
    assert b"every agent of business unit Human Resources is refused" in unit_page
    client_for(board).post(f"/stops/{stop.pk}/lift/", {"lift_reason": "done"})
    stop.refresh_from_db()
    assert stop.lifted_at is not None
