"""Reading an MCP server's tools with the official MCP Python SDK (``tools/list``).

The only network call of the registry's MCP inventory. It runs outside any
database transaction; the scan service records what it returns. Every failure
(refused connection, timeout, an HTTP error, something that does not speak
MCP) becomes :class:`McpUnreachable` with a short reason, so a server that
cannot be read is shown as unreachable, never as a server without tools.

Every TCP connection the client opens goes through the address guard
(:func:`registry.address_guard.guarded_network_backend` with the MCP scan
settings): the host is resolved and checked right before connecting and the
checked address is the one connected to. The SDK follows a redirect only within
the endpoint's origin, and each such hop connects through the same guard.
Proxies from the environment are not used: the guard must see the address the
scan really connects to.
"""

from dataclasses import dataclass

import anyio
import httpcore2
import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from registry import address_guard
from registry.choices import McpTransport

# A listing longer than this many pages is cut short: a misbehaving server cannot keep a scan busy forever.
MAX_PAGES = 50


class McpUnreachable(Exception):
    """The server's tool list could not be read; the message says why in a few words."""


@dataclass(frozen=True)
class ListedTool:
    """One tool as ``tools/list`` describes it."""

    name: str
    title: str
    description: str
    input_schema: dict
    annotations: dict


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _describe(exc: BaseException) -> str:
    """A one-line reason from an exception, unwrapping the task groups the SDK raises through.
    A refusal by the address guard is the reason whatever else failed beside it."""
    leaves = _leaves(exc) or [exc]
    refused = [leaf for leaf in leaves if isinstance(leaf, address_guard.AddressRefused)]
    if refused:
        return str(refused[0])[:480]
    exc = leaves[0]
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:480]


def guarded_http_client(
    headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: httpx2.Auth | None = None
) -> httpx2.AsyncClient:
    """The SDK's HTTP client, connecting only where the MCP scan policy allows (an
    ``McpHttpClientFactory``). Redirect following stays off, as the SDK's own factory leaves it."""
    transport = httpx2.AsyncHTTPTransport(trust_env=False)
    # httpx2 takes no network backend of its own; its pool is replaced by the same pool with the guard.
    transport._pool = httpcore2.AsyncConnectionPool(
        ssl_context=httpx2.create_ssl_context(trust_env=False),
        network_backend=address_guard.guarded_network_backend(address_guard.mcp_scan_policy()),
    )
    kwargs: dict = {"headers": headers} if headers is not None else {}
    if timeout is not None:
        kwargs["timeout"] = timeout
    if auth is not None:
        kwargs["auth"] = auth
    return httpx2.AsyncClient(transport=transport, follow_redirects=False, trust_env=False, **kwargs)


def _transport(url: str, transport: str, timeout: float):
    if transport == McpTransport.SSE:
        return sse_client(url, timeout=timeout, sse_read_timeout=timeout, httpx_client_factory=guarded_http_client)
    return streamable_http_client(url, http_client=guarded_http_client(timeout=httpx2.Timeout(timeout)))


def _listed(tool) -> ListedTool:
    annotations = tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else {}
    # Only the four behaviour hints matter to access; the display title rides along for the name.
    hints = {
        k: v
        for k, v in annotations.items()
        if k in ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
    }
    return ListedTool(
        name=tool.name,
        title=(tool.title or annotations.get("title") or "").strip(),
        description=(tool.description or "").strip(),
        input_schema=dict(tool.input_schema or {}),
        annotations=hints,
    )


async def _list_tools(url: str, transport: str, timeout: float) -> list[ListedTool]:
    tools: list[ListedTool] = []
    with anyio.fail_after(timeout):
        async with Client(_transport(url, transport, timeout), read_timeout_seconds=timeout) as client:
            cursor = None
            for _ in range(MAX_PAGES):
                page = await client.list_tools(cursor=cursor, cache_mode="bypass")
                tools.extend(_listed(tool) for tool in page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
    return tools


def list_tools(url: str, *, transport: str = McpTransport.STREAMABLE_HTTP, timeout: float = 10.0) -> list[ListedTool]:
    """The server's tools, every page of ``tools/list``. Raises :class:`McpUnreachable` on any failure."""
    try:
        return anyio.run(_list_tools, url, transport, timeout)
    except TimeoutError:
        raise McpUnreachable(f"No answer within {timeout:g} seconds.") from None
    except Exception as exc:  # noqa: BLE001 - any failure to read the list means "unreachable", said with its reason
        raise McpUnreachable(_describe(exc)) from exc
