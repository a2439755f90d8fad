"""Fetching an agent card by URL is a server-side request: every refusal, against a real loopback server."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from registry import cards

CARD = {
    "name": "Travel planner",
    "description": "Plans trips.",
    "version": "1.0.0",
    "supportedInterfaces": [{"url": "https://agents.example.com/travel", "protocolBinding": "JSONRPC"}],
    "skills": [{"id": "book", "name": "Book", "description": "Books", "tags": []}],
}


class CardHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/.well-known/agent-card.json":
            self._send(200, json.dumps(CARD).encode(), [("Content-Type", "application/json")])
        elif self.path == "/moved":
            self._send(302, headers=[("Location", "/.well-known/agent-card.json")])
        elif self.path == "/elsewhere":
            self._send(302, headers=[("Location", f"http://localhost:{port}/.well-known/agent-card.json")])
        elif self.path == "/huge":
            self._send(200, b'{"name": "' + b"x" * 5000 + b'"}')
        elif self.path == "/huge-undeclared":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"name": "' + b"x" * 5000 + b'"}')
        elif self.path == "/slow":
            time.sleep(2)
            self._send(200, json.dumps(CARD).encode())
        else:
            self._send(404)


@pytest.fixture(scope="module")
def card_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), CardHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback_allowed(settings):
    settings.AGENT_CARD_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.AGENT_CARD_ALLOW_PRIVATE_ADDRESSES = True
    settings.AGENT_CARD_FETCH_TIMEOUT_SECONDS = 0.5
    settings.AGENT_CARD_MAX_BYTES = 4096
    return settings


def refusal(url) -> str:
    with pytest.raises(ValidationError) as refused:
        cards.fetch_card(url)
    return " ".join(refused.value.message_dict["url"])


def test_an_allowed_host_serves_its_card(card_server, loopback_allowed):
    assert cards.fetch_card(f"{card_server}/.well-known/agent-card.json")["name"] == "Travel planner"


def test_a_redirect_within_the_same_host_is_followed(card_server, loopback_allowed):
    assert cards.fetch_card(f"{card_server}/moved")["name"] == "Travel planner"


def test_a_host_off_the_allow_list_is_refused(card_server, loopback_allowed):
    loopback_allowed.AGENT_CARD_ALLOWED_HOSTS = ["agents.example.com"]
    assert "not on the administrators' list" in refusal(f"{card_server}/.well-known/agent-card.json")


def test_a_loopback_address_is_refused_unless_a_setting_allows_it(card_server, loopback_allowed):
    loopback_allowed.AGENT_CARD_ALLOW_PRIVATE_ADDRESSES = False
    assert "private, loopback or link-local" in refusal(f"{card_server}/.well-known/agent-card.json")


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.0.10", "169.254.169.254", "[::1]"])
def test_private_and_link_local_addresses_are_refused(loopback_allowed, address):
    loopback_allowed.AGENT_CARD_ALLOW_PRIVATE_ADDRESSES = False
    loopback_allowed.AGENT_CARD_ALLOWED_HOSTS = [address.strip("[]")]
    assert "private, loopback or link-local" in refusal(f"http://{address}/.well-known/agent-card.json")


def test_a_redirect_to_another_host_is_refused(card_server, loopback_allowed):
    assert "redirects to another host" in refusal(f"{card_server}/elsewhere")


@pytest.mark.parametrize("path", ["/huge", "/huge-undeclared"])
def test_a_card_over_the_size_limit_is_refused(card_server, loopback_allowed, path):
    assert "larger than 4096 bytes" in refusal(f"{card_server}{path}")


def test_a_slow_server_is_cut_off_by_the_timeout(card_server, loopback_allowed):
    started = time.monotonic()
    assert "did not answer in time" in refusal(f"{card_server}/slow")
    assert time.monotonic() - started < 1.5


def test_other_schemes_and_credentials_in_the_url_are_refused(loopback_allowed, card_server):
    assert "full http(s) address" in refusal("file:///etc/passwd")
    assert "credentials" in refusal(card_server.replace("http://", "http://user:pw@") + "/x")
