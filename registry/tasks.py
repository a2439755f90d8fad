"""The registry's periodic work: thin wrappers over services, taking primitives, returning counts."""

from celery import shared_task

from registry import services


@shared_task(name="registry.scan_mcp_servers")
def scan_mcp_servers() -> dict:
    """Rescan the MCP servers whose scan is due (each every MCP_SCAN_INTERVAL_SECONDS)."""
    return services.scan_due_mcp_servers()
