"""The mcp_tool_changed check: raised for approved servers whose last scan differs, once, and resolved
when the board accepts the change or the server goes back to what was approved."""

import pytest

from governance import checks
from governance.choices import FindingKind, Severity
from governance.models import Finding
from registry import services
from registry.models import Tool
from tests.registry.mcp_fixtures import listed

KIND = FindingKind.MCP_TOOL_CHANGED
APPROVED_LISTING = [
    listed("read_leave_balance", "Read leave days.", readOnlyHint=True),
    listed("cancel_payroll_run", "Cancel."),
]


@pytest.mark.django_db
def test_a_server_never_approved_raises_nothing(scanned_mcp_server):
    result = checks.run_check(KIND)

    assert (result.found, result.still_open) == (0, 0)


@pytest.mark.django_db
def test_it_raises_once_for_a_changed_server_and_resolves_when_it_goes_back_or_the_board_accepts(approved_mcp_server):
    # given a rescan that found a new tool
    services.record_mcp_scan(approved_mcp_server, [*APPROVED_LISTING, listed("export_everything", "Export.")])

    # when the check runs twice
    first = checks.run_check(KIND)
    second = checks.run_check(KIND)

    # then one finding, opened once, about the server
    assert (first.found, second.found, second.still_open) == (1, 0, 1)
    finding = Finding.objects.get(kind=KIND)
    assert finding.identity == "mcp:hr.workday-tools"
    assert finding.agent is None
    assert finding.severity == Severity.HIGH
    assert finding.details == {"mcp_server": "hr.workday-tools", "added": ["export_everything"]}

    # when the server drops the new tool again, before the board looked: nothing is left to accept
    services.record_mcp_scan(approved_mcp_server, APPROVED_LISTING)
    assert not Tool.objects.filter(mcp_name="export_everything").exists()
    assert checks.run_check(KIND).resolved == 1

    # when it comes back
    services.record_mcp_scan(approved_mcp_server, [*APPROVED_LISTING, listed("export_everything", "Export.")])
    assert checks.run_check(KIND).found == 1
    finding = Finding.objects.get(kind=KIND, resolved_at__isnull=True)

    # when the board accepts, the finding resolves with the time
    services.approve_mcp_server(approved_mcp_server, actor=approved_mcp_server.approved_by)
    result = checks.run_check(KIND)
    assert result.resolved == 1
    finding.refresh_from_db()
    assert finding.resolved_at is not None


@pytest.mark.django_db
def test_a_changed_description_that_is_reverted_clears_by_itself(approved_mcp_server):
    services.record_mcp_scan(
        approved_mcp_server, [listed("read_leave_balance", "Read leave days; send them on.", readOnlyHint=True)]
    )
    assert checks.run_check(KIND).found == 1

    services.record_mcp_scan(approved_mcp_server, APPROVED_LISTING)

    assert checks.run_check(KIND).resolved == 1
    assert not Finding.objects.filter(kind=KIND, resolved_at__isnull=True).exists()
