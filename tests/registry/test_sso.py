"""Single sign-on end to end against a real OpenID Connect provider (django-oidc-provider in a subprocess).

The test client plays the browser on our side; a ``requests`` session plays
it on the provider's side (sign-in form, authorization endpoint). Our backend
then talks to the provider for real: discovery, token exchange, JWKS-verified
RS256 id token, userinfo with a ``groups`` claim.
"""

import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from registry import services, sso
from registry.models import AuditEvent, User
from registry.roles import Role
from tests.factories import UserFactory

BASE_DIR = Path(__file__).resolve().parents[2]
CALLBACK = "http://testserver/oidc/callback/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    port = _free_port()
    db_file = tmp_path_factory.mktemp("idp") / "idp.sqlite3"
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "tests.oidc_idp.serve", str(port), str(db_file), CALLBACK],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    output = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        output.append(line)
        if line.strip() == "ready":
            break
        if proc.poll() is not None:
            pytest.fail("the test identity provider did not start:\n" + "".join(output))
    else:
        proc.kill()
        pytest.fail("the test identity provider did not start in 60 s")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def sso_on(settings, provider):
    settings.OIDC_ISSUER = f"{provider}/openid"
    settings.OIDC_RP_CLIENT_ID = "registry-test"
    settings.OIDC_RP_CLIENT_SECRET = "registry-secret"
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OIDC_GROUPS_CLAIM = "groups"
    settings.OIDC_ROLE_MAP = {
        "board": Role.BOARD,
        "leaders": Role.LEADERSHIP,
        "itadmins": Role.PLATFORM_ADMIN,
    }
    sso.discover.cache_clear()
    yield provider
    sso.discover.cache_clear()


def sign_in_through_provider(client, provider: str, username: str, password: str):
    """Drive the authorization-code flow like a browser; return our callback's response."""
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302
    assert start["Location"].startswith(f"{provider}/openid/authorize")
    browser = requests.Session()
    to_login = browser.get(start["Location"], allow_redirects=False, timeout=10)
    login_url = urljoin(provider, to_login.headers["Location"])
    browser.get(login_url, timeout=10)
    next_url = dict(part.split("=", 1) for part in urlsplit(login_url).query.split("&"))["next"]
    signed_in = browser.post(
        login_url,
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": requests.utils.unquote(next_url),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302, "the provider refused the test person's password"
    back = browser.get(urljoin(provider, signed_in.headers["Location"]), allow_redirects=False, timeout=10)
    assert back.headers["Location"].startswith(CALLBACK), back.headers.get("Location")
    parts = urlsplit(back.headers["Location"])
    return client.get(f"{parts.path}?{parts.query}")


def test_it_creates_signs_in_and_maps_roles_for_a_new_person(client, sso_on, unit):
    # given a person known only to the identity provider, in groups "board" and "itadmins"
    assert not User.objects.filter(username="alice").exists()

    # when she signs in through SSO
    response = sign_in_through_provider(client, sso_on, "alice", "pw-alice")

    # then she has an account with her provider profile and the mapped roles, and is signed in
    assert response.status_code == 302
    # (and lands on her roles' work: board and administrator, so the operations overview)
    assert response["Location"] == "/start/"
    alice = User.objects.get(username="alice")
    assert (alice.email, alice.first_name, alice.last_name) == ("alice@example.org", "Alice", "Adams")
    assert sorted(alice.groups.values_list("name", flat=True)) == sorted([Role.BOARD, Role.PLATFORM_ADMIN])
    assert client.get("/").context["user"] == alice
    # and every step is on the audit trail
    events = list(AuditEvent.objects.filter(target_id=str(alice.pk)).order_by("seq"))
    assert [e.event_type for e in events] == ["user.created", "user.roles_changed", "auth.login"]
    assert events[-1].after["method"] == "sso"


def test_it_replaces_local_roles_with_the_providers_groups_on_each_sign_in(client, sso_on, unit):
    # given alice already has a local account with a leadership role and an old e-mail address
    alice = UserFactory(username="alice", email="old@example.org", business_unit=unit)
    services.set_user_roles(alice, [Role.LEADERSHIP], actor=None)

    # when she signs in through SSO
    sign_in_through_provider(client, sso_on, "alice", "pw-alice")

    # then the provider's groups decide her roles and her profile follows the provider
    alice.refresh_from_db()
    assert sorted(alice.groups.values_list("name", flat=True)) == sorted([Role.BOARD, Role.PLATFORM_ADMIN])
    assert alice.email == "alice@example.org"
    change = AuditEvent.objects.filter(event_type="user.roles_changed", target_id=str(alice.pk)).first()
    assert change.before == {"roles": [Role.LEADERSHIP]}
    assert AuditEvent.objects.filter(event_type="user.changed", target_id=str(alice.pk)).exists()


def test_it_refuses_a_deactivated_local_account(client, sso_on, unit):
    # given bob's local account was switched off
    UserFactory(username="bob", business_unit=unit, is_active=False)

    # when he signs in at the provider, which still knows him
    response = sign_in_through_provider(client, sso_on, "bob", "pw-bob")

    # then he is sent back to the sign-in page, not signed in, and the failure is audited
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?sso=failed")
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(event_type="auth.login_failed", after__method="sso").exists()
    assert not AuditEvent.objects.filter(event_type="auth.login").exists()


def test_it_offers_the_sso_button_only_when_configured(client, settings, db):
    settings.OIDC_RP_CLIENT_ID = ""
    assert b"Sign in with SSO" not in client.get("/accounts/login/").content
    assert client.get("/oidc/authenticate/").status_code == 404

    settings.OIDC_RP_CLIENT_ID = "registry-test"
    settings.OIDC_ISSUER = "http://127.0.0.1:9/never-contacted"
    assert b"Sign in with SSO" in client.get("/accounts/login/").content
