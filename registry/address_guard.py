"""The one guard on the registry's own outbound requests: agent-card fetches and MCP server scans.

Both fetch a URL that any employee may type in, from inside the company's network, so both could be
turned into a server-side request forgery: the cloud metadata service (169.254.169.254), an admin
console on loopback, a database on a private subnet. One :class:`AddressPolicy` per use, built from
that use's settings, says which hosts and which kinds of address the registry may connect to:

- only http(s), never credentials in the URL;
- optionally, only hosts on an administrators' allow-list (exact names, or ``.example.com`` for a
  domain and its subdomains);
- every address the host resolves to is classified (public, private, loopback, link-local and the
  other special ranges) and refused unless the policy allows its kind.

A name can resolve to a harmless address when it is checked and to a forbidden one when it is used
(DNS rebinding). :func:`guarded_network_backend` closes that gap for the MCP client: it resolves the
name itself right before each TCP connection, checks every address and connects to the checked
address, never resolving again (TLS still verifies the certificate against the host name).
The agent-card fetch does not use it yet: it checks the addresses right before its request, and its
hosts must be on AGENT_CARD_ALLOWED_HOSTS, so a rebinding card host is one the administrators listed.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The registry will not connect there; the message says why, in a sentence for the record."""


class Kind:
    """What sort of address one is, in the words the refusals use."""

    PUBLIC = "public"
    PRIVATE = "private"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link-local"
    SPECIAL = "unspecified, multicast or reserved"


def kind_of(address: Address) -> str:
    """Classify an address. An IPv4 address written as IPv6 (``::ffff:127.0.0.1``) is judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # Order matters: loopback and link-local ranges are also "private" to the ipaddress module.
    if address.is_loopback:
        return Kind.LOOPBACK
    if address.is_link_local:
        return Kind.LINK_LOCAL
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return Kind.SPECIAL
    if address.is_private or not address.is_global:
        # RFC 1918, IPv6 ULA, and the shared (carrier-grade NAT) and documentation ranges.
        return Kind.PRIVATE
    return Kind.PUBLIC


@dataclass(frozen=True)
class AddressPolicy:
    """Where one kind of outbound request may go.

    ``allowed_hosts`` None means any host name (the addresses are still checked); an empty list
    means no host at all. ``field`` is the form/API field a refusal is reported on.
    """

    field: str
    what: str  # "the card", "the MCP server": the subject of the messages
    allowed_hosts: tuple[str, ...] | None
    allow_private: bool
    allow_loopback: bool
    allow_link_local: bool
    allow_special: bool

    def allows(self, kind: str) -> bool:
        return {
            Kind.PUBLIC: True,
            Kind.PRIVATE: self.allow_private,
            Kind.LOOPBACK: self.allow_loopback,
            Kind.LINK_LOCAL: self.allow_link_local,
            Kind.SPECIAL: self.allow_special,
        }[kind]

    def refused_kinds(self) -> str:
        kinds = [
            k
            for k in (Kind.PRIVATE, Kind.LOOPBACK, Kind.LINK_LOCAL)
            if not self.allows(k)  # the special ranges go without saying
        ]
        return ", ".join(kinds[:-1]) + (" or " if len(kinds) > 1 else "") + kinds[-1] if kinds else "special"

    def host_allowed(self, host: str) -> bool:
        if self.allowed_hosts is None:
            return True
        host = host.lower().rstrip(".")
        for allowed in self.allowed_hosts:
            allowed = allowed.lower().strip()
            if not allowed:
                continue
            if allowed.startswith("."):
                if host.endswith(allowed):
                    return True
            elif host == allowed:
                return True
        return False

    def check_address(self, host: str, address: Address) -> None:
        kind = kind_of(address)
        if not self.allows(kind):
            raise AddressRefused(
                f"{host} resolves to {address}, a {kind} address; {self.what} may not be reached at "
                f"{self.refused_kinds()} addresses. Refused."
            )

    def resolve(self, host: str, port: int) -> list[Address]:
        """Every address ``host`` resolves to, each checked. Raises :class:`AddressRefused` if any one
        is refused (a name with one bad address is a bad name) or if the name does not resolve."""
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            raise AddressRefused(f"{host} cannot be resolved.") from exc
        addresses: list[Address] = []
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            self.check_address(host, address)
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise AddressRefused(f"{host} cannot be resolved.")
        return addresses

    def check_url(self, url: str, *, unresolvable_ok: bool = False) -> tuple[str, str, int]:
        """The (scheme, host, port) of a URL the registry may connect to, or a field error saying why not.

        ``unresolvable_ok``: a name that does not resolve (yet) passes; used when a server is registered
        ahead of its DNS, since every connection is checked again anyway.
        """
        parts = urlsplit(url or "")
        try:
            port = parts.port
        except ValueError:
            port = None
            parts = parts._replace(netloc="")
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValidationError({self.field: "Give the full http(s) address."})
        if parts.username or parts.password:
            raise ValidationError({self.field: "The address may not carry credentials."})
        host = parts.hostname
        if not self.host_allowed(host):
            raise ValidationError(
                {self.field: f"{host} is not on the administrators' list of hosts {self.what} may be reached at."}
            )
        port = port or (443 if parts.scheme == "https" else 80)
        try:
            self.resolve(host, port)
        except AddressRefused as exc:
            if not (unresolvable_ok and str(exc).endswith("cannot be resolved.")):
                raise ValidationError({self.field: str(exc)}) from exc
        return parts.scheme, host, port


def card_policy() -> AddressPolicy:
    """Agent-card fetches: allow-listed hosts only; one setting lets every non-public address in."""
    private = settings.AGENT_CARD_ALLOW_PRIVATE_ADDRESSES
    return AddressPolicy(
        field="url",
        what="cards",
        allowed_hosts=tuple(settings.AGENT_CARD_ALLOWED_HOSTS),
        allow_private=private,
        allow_loopback=private,
        allow_link_local=private,
        allow_special=private,
    )


def mcp_scan_policy() -> AddressPolicy:
    """MCP scans: internal servers live on private networks, so private addresses are allowed by default;
    loopback only when a setting says so (development, tests); link-local (the cloud metadata service)
    and the special ranges never."""
    hosts = settings.MCP_SCAN_ALLOWED_HOSTS
    return AddressPolicy(
        field="url",
        what="MCP servers",
        allowed_hosts=tuple(hosts) if hosts else None,
        allow_private=settings.MCP_SCAN_ALLOW_PRIVATE_ADDRESSES,
        allow_loopback=settings.MCP_SCAN_ALLOW_LOOPBACK,
        allow_link_local=False,
        allow_special=False,
    )


def guarded_network_backend(policy: AddressPolicy):
    """An httpcore network backend that connects only to addresses ``policy`` allows.

    It resolves each host itself right before connecting, checks every address, and connects to the
    checked address (the next one if a connection is refused), so a name cannot be re-pointed between
    the check and the connection. Raises :class:`AddressRefused` through the HTTP client.
    """
    import anyio
    import httpcore2
    from httpcore2._backends.auto import AutoBackend

    class GuardedBackend(httpcore2.AsyncNetworkBackend):
        def __init__(self):
            self._inner = AutoBackend()

        async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            if not policy.host_allowed(host):
                raise AddressRefused(
                    f"{host} is not on the administrators' list of hosts {policy.what} may be reached at."
                )
            addresses = await anyio.to_thread.run_sync(policy.resolve, host, port)
            error: Exception | None = None
            for address in addresses:
                try:
                    return await self._inner.connect_tcp(
                        str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                    )
                except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                    error = exc
            raise error  # type: ignore[misc]  # addresses is never empty

        async def connect_unix_socket(self, path, timeout=None, socket_options=None):
            raise AddressRefused("Unix sockets are not reached.")

        async def sleep(self, seconds):
            await self._inner.sleep(seconds)

    return GuardedBackend()
