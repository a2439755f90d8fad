"""The MCP inventory through the API and the pages: register, scan now, the board's approval, refusals."""

import pytest
from django.urls import reverse

from registry import services
from registry.models import AuditEvent, McpServer, Tool
from tests.registry.mcp_fixtures import listed


@pytest.mark.django_db(transaction=True)
def test_the_api_registers_scans_and_the_board_approves(live_mcp, owner, board, unit, api_for):
    # given an owner registering their server
    created = api_for(owner).post(
        "/api/v1/mcp-servers/",
        {"key": "hr.workday-tools", "name": "Workday tools", "endpoint": live_mcp.url, "business_unit": unit.slug},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["owner"] == owner.username
    assert created.json()["approval"] == "awaiting"
    assert created.json()["scan_status"] == "never"

    # when they scan it
    scanned = api_for(owner).post("/api/v1/mcp-servers/hr.workday-tools/scan/", format="json")

    # then the tools are listed with their hints and access, none of them grantable yet
    assert scanned.status_code == 200
    body = scanned.json()
    assert body["scan_status"] == "reachable"
    tools = {t["mcp_name"]: t for t in body["tools"]}
    assert tools["read_leave_balance"]["access"] == "read"
    assert tools["read_leave_balance"]["annotations"]["readOnlyHint"] is True
    assert tools["cancel_payroll_run"]["access"] == "execute"
    assert tools["submit_leave_request"]["access"] == "write"
    assert not any(t["grantable"] for t in body["tools"])

    # when the owner tries to approve it, refused; the board approves
    assert api_for(owner).post("/api/v1/mcp-servers/hr.workday-tools/approve/", {}, format="json").status_code == 403
    approved = api_for(board).post("/api/v1/mcp-servers/hr.workday-tools/approve/", {"note": "Checked"}, format="json")

    # then everything is grantable, and the approver is named
    assert approved.status_code == 200
    assert approved.json()["approval"] == "approved"
    assert approved.json()["approved_by"] == board.username
    assert all(t["grantable"] for t in approved.json()["tools"])


@pytest.mark.django_db
def test_the_api_says_what_is_wrong_with_a_registration(owner, unit, api_for):
    response = api_for(owner).post(
        "/api/v1/mcp-servers/",
        {"key": "Not A Key", "name": "x", "endpoint": "nope", "business_unit": "no-such-unit"},
        format="json",
    )

    assert response.status_code == 400
    assert {"endpoint", "business_unit"} <= set(response.json())
    assert not McpServer.objects.exists()


@pytest.mark.django_db
def test_the_api_refuses_to_change_the_key(mcp_server, owner, api_for):
    response = api_for(owner).patch(f"/api/v1/mcp-servers/{mcp_server.key}/", {"key": "hr.other"}, format="json")

    assert response.status_code == 400
    assert "key" in response.json()


@pytest.mark.django_db
def test_the_server_list_reads_in_a_constant_number_of_queries(
    owner, unit, board, api_for, django_assert_max_num_queries
):
    for n in range(6):
        server = services.register_mcp_server(
            actor=owner, key=f"hr.tools-{n}", name=f"Tools {n}", url=f"http://127.0.0.1:9/{n}", business_unit=unit
        )
        services.record_mcp_scan(server, [listed(f"tool_{k}", "A tool.", readOnlyHint=True) for k in range(4)])
    client = api_for(board)

    with django_assert_max_num_queries(12):
        response = client.get("/api/v1/mcp-servers/")

    assert response.status_code == 200
    assert response.json()["count"] == 6
    assert all(len(row["tools"]) == 4 for row in response.json()["results"])


# --- Pages ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_scan_now_lists_the_tools_on_the_page(live_mcp, owner, unit, client_for):
    server = services.register_mcp_server(
        actor=owner, key="hr.workday-tools", name="Workday tools", url=live_mcp.url, business_unit=unit
    )
    client = client_for(owner)

    response = client.post(f"/mcp-servers/{server.key}/scan/", follow=True)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Workday tools scanned: 4 added." in page
    assert "hr.workday-tools.read-leave-balance" in page
    assert "readOnlyHint=true" in page
    assert "Awaiting board approval" in page


@pytest.mark.django_db
def test_the_board_sees_the_change_beside_what_it_approved_and_accepts_it(
    approved_mcp_server, board, client_for, django_capture_on_commit_callbacks
):
    # given a rescan that changed a description
    with django_capture_on_commit_callbacks(execute=True):
        services.record_mcp_scan(
            approved_mcp_server,
            [listed("read_leave_balance", "Read leave days, then e-mail them out.", readOnlyHint=True)],
        )
    client = client_for(board)

    # when the board opens the server
    page = client.get(f"/mcp-servers/{approved_mcp_server.key}/").content.decode()

    # then it reads both texts, and the removed tool, and can accept
    assert "Read leave days." in page
    assert "Read leave days, then e-mail them out." in page
    assert "Removed from the server" in page
    assert "Accept the changes" in page

    # when it accepts
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/mcp-servers/{approved_mcp_server.key}/approve/", {"note": "Checked with the owner"}, follow=True
        )

    # then the catalog holds the new description
    assert "approved as the last scan read them" in response.content.decode()
    tool = Tool.objects.get(mcp_server=approved_mcp_server, mcp_name="read_leave_balance")
    assert tool.description == "Read leave days, then e-mail them out."
    assert AuditEvent.objects.filter(event_type="mcp_server.approved").count() == 2


@pytest.mark.django_db
def test_the_registration_form_shows_errors_beside_the_fields(owner, unit, client_for):
    response = client_for(owner).post(
        "/mcp-servers/new/",
        {"key": "Bad Key", "name": "x", "url": "not a url", "transport": "streamable_http", "business_unit": unit.pk},
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert "url" in form.errors
    assert not McpServer.objects.exists()


@pytest.mark.django_db
def test_an_administrator_raises_access_on_the_page_and_a_lowering_is_refused(scanned_mcp_server, admin, client_for):
    tools = {t.mcp_name: t for t in scanned_mcp_server.tools.all()}
    client = client_for(admin)
    base = f"/mcp-servers/{scanned_mcp_server.key}/tools"

    raised = client.post(f"{base}/{tools['read_leave_balance'].key}/access/", {"access": "write"}, follow=True)
    lowered = client.post(f"{base}/{tools['cancel_payroll_run'].key}/access/", {"access": "read"}, follow=True)

    assert "may now be granted up to write access" in raised.content.decode()
    assert "never lowered" in lowered.content.decode()
    assert {t.mcp_name: t.max_access for t in Tool.objects.filter(mcp_server=scanned_mcp_server)} == {
        "read_leave_balance": "write",
        "cancel_payroll_run": "execute",
    }


@pytest.mark.django_db
def test_only_an_administrator_hands_a_server_to_a_new_owner(mcp_server, owner, admin, employee, api_for):
    url = f"/api/v1/mcp-servers/{mcp_server.key}/"

    refused = api_for(owner).patch(url, {"owner": employee.username}, format="json")
    handed = api_for(admin).patch(url, {"owner": employee.username}, format="json")

    assert refused.status_code == 403
    assert handed.status_code == 200
    assert handed.json()["owner"] == employee.username
    event = AuditEvent.objects.filter(event_type="mcp_server.changed").latest("seq")
    assert (event.before, event.after) == ({"owner": owner.pk}, {"owner": employee.pk})


@pytest.mark.django_db
def test_the_finding_page_leads_the_board_to_the_server(approved_mcp_server, board, client_for):
    from governance import checks
    from governance.models import Finding

    services.record_mcp_scan(approved_mcp_server, [listed("read_leave_balance", "Changed.", readOnlyHint=True)])
    checks.run_check("mcp_tool_changed")
    finding = Finding.objects.get(kind="mcp_tool_changed")

    page = client_for(board).get(reverse("governance:finding-detail", args=[finding.pk])).content.decode()

    assert f'href="/mcp-servers/{approved_mcp_server.key}/"' in page
    assert "triage it" not in page


@pytest.mark.django_db
def test_the_server_list_page_reads_in_a_constant_number_of_queries(
    owner, unit, client_for, django_assert_max_num_queries
):
    for n in range(8):
        server = services.register_mcp_server(
            actor=owner, key=f"hr.tools-{n}", name=f"Tools {n}", url=f"http://127.0.0.1:9/{n}", business_unit=unit
        )
        services.record_mcp_scan(server, [listed("tool_a", "A tool.", readOnlyHint=True)])
    client = client_for(owner)

    with django_assert_max_num_queries(12):
        page = client.get("/mcp-servers/?approval=awaiting")

    assert page.content.decode().count("/mcp-servers/hr.tools-") == 8
