"""MCP scans are server-side requests to addresses any employee may register: the address guard refuses
loopback, link-local (the cloud metadata service) and the special ranges, private ones when the setting
says so, and credentials in the URL; on the form, on the API and again right before each scan connects."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError

from registry import address_guard, services
from registry.choices import McpScanStatus
from registry.models import McpServer
from tests.registry.mcp_fixtures import LiveMcpServer

REAL_GETADDRINFO = socket.getaddrinfo


def _answer(address: str, port: int):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]


@pytest.fixture
def dns(monkeypatch):
    """A resolver for made-up names: ``dns["name"] = ["10.0.0.5", "127.0.0.1"]`` answers each lookup
    with the next address in turn (the last one repeats); other names resolve as usual."""
    names: dict[str, list[str]] = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            lookups.append(host)
            answers = names[host]
            address = answers.pop(0) if len(answers) > 1 else answers[0]
            return _answer(address, port or 0)
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    names["lookups"] = lookups  # type: ignore[assignment]
    return names


@pytest.fixture
def guarded(settings):
    """Production defaults: private addresses allowed, loopback not."""
    settings.MCP_SCAN_ALLOW_LOOPBACK = False
    settings.MCP_SCAN_ALLOW_PRIVATE_ADDRESSES = True
    settings.MCP_SCAN_ALLOWED_HOSTS = []
    return settings


REFUSED = [
    ("http://127.0.0.1:8080/mcp", "loopback"),
    ("http://[::1]:8080/mcp", "loopback"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[fe80::1]/mcp", "link-local"),
    ("http://0.0.0.0:8080/mcp", "unspecified"),
    ("http://[::ffff:127.0.0.1]/mcp", "loopback"),
    ("http://mcp.loopback.example/mcp", "loopback"),
]


def register(owner, unit, url):
    return services.register_mcp_server(actor=owner, key="hr.tools", name="HR tools", url=url, business_unit=unit)


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "kind"), REFUSED)
def test_the_form_refuses_an_address_scans_may_not_reach(guarded, dns, owner, unit, client_for, url, kind):
    dns["mcp.loopback.example"] = ["127.0.0.1"]

    response = client_for(owner).post(
        "/mcp-servers/new/",
        {
            "key": "hr.tools",
            "name": "HR tools",
            "url": url,
            "transport": "streamable_http",
            "business_unit": unit.pk,
            "owner": owner.pk,
        },
    )

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["url"])
    assert kind in errors
    assert "Refused" in errors
    assert not McpServer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "kind"), REFUSED)
def test_the_api_refuses_it_on_the_endpoint_field(guarded, dns, owner, unit, api_for, url, kind):
    dns["mcp.loopback.example"] = ["127.0.0.1"]

    response = api_for(owner).post(
        "/api/v1/mcp-servers/",
        {"key": "hr.tools", "name": "HR tools", "endpoint": url, "business_unit": unit.slug},
        format="json",
    )

    assert response.status_code == 400
    assert kind in " ".join(response.json()["endpoint"])
    assert not McpServer.objects.exists()


@pytest.mark.django_db
def test_moving_a_server_to_a_refused_address_is_refused_on_the_api(guarded, owner, unit, api_for):
    server = register(owner, unit, "http://10.20.30.40:8080/mcp")

    response = api_for(owner).patch(
        f"/api/v1/mcp-servers/{server.key}/", {"endpoint": "http://169.254.169.254/mcp"}, format="json"
    )

    assert response.status_code == 400
    assert "link-local" in " ".join(response.json()["endpoint"])
    server.refresh_from_db()
    assert server.url == "http://10.20.30.40:8080/mcp"


@pytest.mark.django_db
def test_a_private_address_is_allowed_by_default_and_refused_when_the_setting_is_off(guarded, owner, unit):
    assert register(owner, unit, "http://10.1.2.3:8080/mcp").url == "http://10.1.2.3:8080/mcp"
    McpServer.objects.all().delete()

    guarded.MCP_SCAN_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(ValidationError) as refused:
        register(owner, unit, "http://10.1.2.3:8080/mcp")

    assert "10.1.2.3, a private address" in " ".join(refused.value.message_dict["url"])


@pytest.mark.django_db
def test_credentials_in_the_url_and_other_schemes_are_refused(guarded, owner, unit):
    for url, message in [
        ("http://svc:secret@10.1.2.3/mcp", "credentials"),
        ("ftp://10.1.2.3/mcp", "http(s)"),
    ]:
        with pytest.raises(ValidationError) as refused:
            register(owner, unit, url)
        assert message in " ".join(refused.value.message_dict["url"])


@pytest.mark.django_db
def test_the_host_allow_list_when_administrators_set_one(guarded, dns, owner, unit):
    guarded.MCP_SCAN_ALLOWED_HOSTS = [".tools.corp.example"]
    dns["hr.tools.corp.example"] = ["10.4.4.4"]

    assert register(owner, unit, "https://hr.tools.corp.example/mcp").host == "hr.tools.corp.example"
    McpServer.objects.all().delete()
    with pytest.raises(ValidationError, match="not on the administrators' list"):
        register(owner, unit, "https://10.4.4.4/mcp")


@pytest.mark.django_db
def test_a_name_not_yet_in_dns_may_be_registered_and_its_scan_says_so(guarded, owner, unit):
    server = register(owner, unit, "https://mcp.not-yet.invalid/mcp")

    scanned = services.scan_mcp_server(server, actor=owner)

    assert scanned.scan_status == McpScanStatus.UNREACHABLE
    assert "cannot be resolved" in scanned.scan_error


# --- At scan time -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_scan_of_a_refused_address_is_a_failed_scan_with_the_reason(live_mcp, settings, owner, unit):
    # given a server registered while loopback was allowed
    server = register(owner, unit, live_mcp.url)
    # when the setting is turned off and the server is scanned
    settings.MCP_SCAN_ALLOW_LOOPBACK = False
    scanned = services.scan_mcp_server(server, actor=owner)

    # then nothing was read, and the record says why
    assert scanned.scan_status == McpScanStatus.UNREACHABLE
    assert "127.0.0.1, a loopback address" in scanned.scan_error
    assert not scanned.tools.exists()


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_rescan_records_the_refusal_and_carries_on(live_mcp, settings, owner, unit):
    from registry.tasks import scan_mcp_servers

    server = register(owner, unit, live_mcp.url)
    settings.MCP_SCAN_ALLOW_LOOPBACK = False

    scan_mcp_servers.delay()

    server.refresh_from_db()
    assert server.scan_status == McpScanStatus.UNREACHABLE
    assert "loopback" in server.scan_error


@pytest.mark.django_db(transaction=True)
def test_a_name_re_pointed_at_loopback_after_the_check_is_refused_when_connecting(live_mcp, guarded, dns, owner, unit):
    # given a name that resolves to a private address when checked, then to loopback (DNS rebinding)
    dns["mcp.rebind.example"] = ["10.9.8.7"]
    server = register(owner, unit, f"http://mcp.rebind.example:{live_mcp.port}/mcp")
    dns["mcp.rebind.example"] = ["10.9.8.7", "127.0.0.1"]

    # when it is scanned: the pre-scan check sees 10.9.8.7, the connection's own lookup sees 127.0.0.1
    scanned = services.scan_mcp_server(server, actor=owner)

    # then the connection is refused by the guard, not made
    assert scanned.scan_status == McpScanStatus.UNREACHABLE
    assert "mcp.rebind.example resolves to 127.0.0.1, a loopback address" in scanned.scan_error
    assert not scanned.tools.exists()


@pytest.mark.django_db(transaction=True)
def test_the_scan_connects_to_the_address_it_checked(settings, dns, owner, unit):
    # given a made-up name only the guard's own lookup can resolve (to a live server on loopback)
    live = LiveMcpServer(host_names=("mcp.pinned.example",)).start()
    dns["mcp.pinned.example"] = ["127.0.0.1"]
    try:
        server = register(owner, unit, f"http://mcp.pinned.example:{live.port}/mcp")
        scanned = services.scan_mcp_server(server, actor=owner)
    finally:
        live.stop()

    # then the client connected to that checked address, with no resolver of its own
    assert scanned.scan_status == McpScanStatus.REACHABLE, scanned.scan_error
    assert scanned.tools.count() == 4


class _RedirectToMetadata(BaseHTTPRequestHandler):
    def _redirect(self):
        self.send_response(307)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/mcp")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _redirect  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.mark.django_db
def test_a_redirect_to_a_refused_address_is_not_followed(owner, unit, monkeypatch):
    httpd = HTTPServer(("127.0.0.1", 0), _RedirectToMetadata)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    resolved: list[str] = []
    real_resolve = address_guard.AddressPolicy.resolve
    monkeypatch.setattr(
        address_guard.AddressPolicy,
        "resolve",
        lambda self, host, port: resolved.append(host) or real_resolve(self, host, port),
    )
    try:
        server = register(owner, unit, f"http://127.0.0.1:{httpd.server_address[1]}/mcp")
        scanned = services.scan_mcp_server(server, actor=owner)
    finally:
        httpd.shutdown()
        httpd.server_close()

    assert scanned.scan_status == McpScanStatus.UNREACHABLE
    assert "169.254.169.254" not in resolved
    assert set(resolved) == {"127.0.0.1"}


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("100.64.0.1", "private"),
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified, multicast or reserved"),  # noqa: S104 - classified, not bound
        ("224.0.0.1", "unspecified, multicast or reserved"),
        ("240.0.0.1", "unspecified, multicast or reserved"),
        ("93.184.216.34", "public"),
        ("2606:4700::1111", "public"),
    ],
)
def test_addresses_are_classified(address, kind):
    import ipaddress

    assert address_guard.kind_of(ipaddress.ip_address(address)) == kind
