"""In a real browser: an owner reads on the agent page which tools the agent called and how it was
evaluated, and the board finds the ungranted tool among the findings, filtered by its kind."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from governance import checks
from telemetry.identity import identify
from telemetry.ingest import Evaluation, Event, store_events
from tests.browser.helpers import login, logout

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password


def test_an_owner_sees_tools_and_evaluations_and_the_board_finds_the_ungranted_tool(
    page, owner, board, make_agent, source, screenshot
):
    # given an agent that called an MCP tool nothing grants and reported evaluation results
    agent = make_agent("hr.leave-assistant", name="Leave assistant")
    at = timezone.now() - timedelta(minutes=5)
    store_events(
        source.pk,
        [
            Event(
                identity=identify(agent.key, None, None),
                environment="production",
                kind="tool_call",
                occurred_at=at,
                count=3,
                tool_name="book_leave",
                tool_server="mcp.hr.example.com",
                evaluations=(Evaluation("relevance", 0.9, "relevant"), Evaluation("relevance", 0.7, "")),
            )
        ],
    )
    checks.run_check("ungranted_tool_use")

    # when the owner opens the agent page
    login(page, owner.username, PASSWORD)
    page.goto(f"/agents/{agent.key}/")

    # then the tools and evaluation panels show the figures
    tools = page.get_by_role("table", name="Tool calls per tool and MCP server")
    expect(tools.get_by_role("row", name="book_leave mcp.hr.example.com 3 0")).to_be_visible()
    evaluations = page.get_by_role("table", name="Evaluation results per evaluation name")
    expect(evaluations.get_by_role("row", name="relevance 2 0.80 0.70 relevant")).to_be_visible()
    screenshot(page, "agent-tools")
    logout(page)

    # when a board member filters the findings by the new kind
    login(page, board.username, PASSWORD)
    page.goto("/governance/findings/?kind=ungranted_tool_use")

    # then the finding names the agent and the tool
    expect(page.get_by_text("book_leave on mcp.hr.example.com").first).to_be_visible()
