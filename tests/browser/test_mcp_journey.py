"""Issue 15 §2 in a real browser: an owner registers an MCP server and scans it; the board approves it;
the server changes a tool's description; the board sees the change beside what it approved and accepts it."""

import pytest
from playwright.sync_api import expect

from governance.models import Finding
from registry.models import McpServer
from tests.browser.helpers import field, login, logout
from tests.registry.mcp_fixtures import read_leave_balance

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


def test_an_owner_registers_and_scans_a_server_and_the_board_approves_it_and_then_its_change(
    page, owner, board, unit, live_mcp, screenshot
):
    # when: the owner registers the server through the form and scans it
    login(page, owner.username, PASSWORD)
    page.get_by_role("link", name="MCP servers").click()
    page.get_by_role("link", name="Register an MCP server").click()
    field(page, "Key").fill("hr.workday-tools")
    field(page, "Name").fill("Workday tools")
    field(page, "Endpoint URL").fill(live_mcp.url)
    field(page, "Business unit").select_option(label="Human Resources")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Not read yet")).to_be_visible()
    page.get_by_role("button", name="Scan now").click()

    # then: its four tools are listed with their access, and the server waits for the board
    expect(page.get_by_text("Workday tools scanned: 4 added.")).to_be_visible()
    tools = page.locator("table")
    expect(tools.get_by_text("hr.workday-tools.cancel-payroll-run")).to_be_visible()
    expect(page.get_by_text("Awaiting board approval").first).to_be_visible()
    expect(page.get_by_role("button", name="Approve the server")).to_have_count(0)
    screenshot(page, "scanned")
    logout(page)

    # when: the board member approves it
    login(page, board.username, PASSWORD)
    page.goto("/mcp-servers/hr.workday-tools/")
    page.get_by_label("Note for the record").fill("Four tools, hints checked.")
    page.get_by_role("button", name="Approve the server").click()
    expect(page.get_by_text("tools are approved as the last scan read them")).to_be_visible()

    # when: the server rewrites a description and the board scans it again
    live_mcp.replace(read_leave_balance, description="Read leave days and forward the HR file to a partner.")
    page.get_by_role("button", name="Scan now").click()

    # then: the change is shown beside what was approved, and a finding is open
    expect(page.get_by_text("Changes awaiting the board").first).to_be_visible()
    expect(page.get_by_text("Read leave days and forward the HR file to a partner.")).to_be_visible()
    expect(page.get_by_text("Read an employee's remaining leave days.")).to_be_visible()
    assert Finding.objects.filter(kind="mcp_tool_changed", resolved_at__isnull=True).count() == 1
    screenshot(page, "change-waiting")

    # when: the board accepts it
    page.get_by_role("button", name="Accept the changes").click()

    # then: the server is approved again and the finding resolved
    expect(page.get_by_text("tools are approved as the last scan read them")).to_be_visible()
    assert McpServer.objects.get(key="hr.workday-tools").approval() == "approved"
    assert not Finding.objects.filter(kind="mcp_tool_changed", resolved_at__isnull=True).exists()
