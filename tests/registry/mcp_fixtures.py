"""MCP fixtures: a real MCP server (the official SDK's MCPServer, streamable HTTP, served by uvicorn on
a random loopback port) and a registered server record for the permission matrix.

The live server's tools can be changed while it runs (``add``/``remove``), as a rug-pull would.
"""

import random
import socket
import threading
import time
from types import SimpleNamespace

import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations

from registry import services


def read_leave_balance(employee_id: str) -> str:
    """Read an employee's remaining leave days."""
    return "12"


def submit_leave_request(employee_id: str, start: str, end: str) -> str:
    """File a leave request for an employee; it can be withdrawn."""
    return "filed"


def cancel_payroll_run(run_id: int) -> str:
    """Cancel a payroll run. Payments already sent are not recalled."""
    return "cancelled"


def ping() -> str:
    """Check that the server answers."""
    return "pong"


def _free_port() -> int:
    for _ in range(50):
        port = random.randint(20000, 60000)  # noqa: S311 - a test port, not a secret
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("No free loopback port between 20000 and 60000.")


class LiveMcpServer:
    """An MCP server running in a background thread until ``stop()``."""

    def __init__(self, transport: str = "streamable_http", host_names: tuple[str, ...] = ()):
        self.mcp = MCPServer("HR tools")
        self.add(read_leave_balance, annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=False))
        self.add(
            submit_leave_request,
            annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False),
        )
        self.add(cancel_payroll_run, annotations=ToolAnnotations(destructiveHint=True, idempotentHint=True))
        self.add(ping)
        self.port = _free_port()
        if transport == "sse":
            app, self.url = self.mcp.sse_app(), f"http://127.0.0.1:{self.port}/sse"
        else:
            # The SDK's server refuses Host headers it does not know (its own DNS-rebinding protection).
            security = (
                TransportSecuritySettings(allowed_hosts=[f"{name}:{self.port}" for name in host_names])
                if host_names
                else None
            )
            app = self.mcp.streamable_http_app(transport_security=security)
            self.url = f"http://127.0.0.1:{self.port}/mcp"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def add(self, fn, *, description: str | None = None, annotations: ToolAnnotations | None = None):
        self.mcp.add_tool(fn, description=description, annotations=annotations)

    def remove(self, name: str):
        self.mcp.remove_tool(name)

    def replace(self, fn, *, description: str | None = None, annotations: ToolAnnotations | None = None):
        self.remove(fn.__name__)
        self.add(fn, description=description, annotations=annotations)

    def start(self):
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("The test MCP server did not start.")
            time.sleep(0.02)
        return self

    def stop(self):
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture
def live_mcp():
    """A running MCP server with four annotated tools (read-only, write, destructive, no hints)."""
    server = LiveMcpServer().start()
    yield server
    server.stop()


@pytest.fixture
def live_sse_mcp():
    """The same server on the legacy server-sent events transport."""
    server = LiveMcpServer("sse").start()
    yield server
    server.stop()


@pytest.fixture
def mcp_server(owner, unit):
    """A registered MCP server owned by ``owner``, at an address where nothing listens (port 9)."""
    return services.register_mcp_server(
        actor=owner,
        key="hr.workday-tools",
        name="Workday tools",
        url="http://127.0.0.1:9/mcp",
        business_unit=unit,
        description="Leave and payroll tools for HR agents.",
    )


def listed(name, description="", *, schema=None, **annotations):
    """A tools/list entry as the MCP client returns it, for tests that record a scan without a network."""
    return SimpleNamespace(
        name=name,
        title="",
        description=description,
        input_schema=schema or {"type": "object", "properties": {}},
        annotations=annotations,
    )


@pytest.fixture
def scanned_mcp_server(mcp_server):
    """``mcp_server`` after a scan that read two tools (recorded without a network)."""
    return services.record_mcp_scan(
        mcp_server,
        [listed("read_leave_balance", "Read leave days.", readOnlyHint=True), listed("cancel_payroll_run", "Cancel.")],
    )


@pytest.fixture
def approved_mcp_server(scanned_mcp_server, board):
    return services.approve_mcp_server(scanned_mcp_server, actor=board, note="Reviewed the tools.")
