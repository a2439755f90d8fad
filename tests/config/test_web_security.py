"""Web security as a browser and an attacker see it: headers, no inline code, no writes on GET, no traces."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registry.models import AuditEvent
from tests.config.routes import page_urls

BASE_DIR = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\s+(INTO\s+)?\"?(\w+)\"?", re.IGNORECASE)
# Writes a GET may make: the session row (sign-in state), and security rows on
# the audit trail (sign-in, refusal) which record the request rather than change anything.
ALLOWED_WRITE_TABLES = {"django_session"}


def test_production_settings_pass_the_deploy_checks():
    # given production-like environment variables (no test settings)
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x7Kq2-production-like-secret-9f8e7d6c5b4a3210-ZyXwVuTsRqPoNmLkJiHg",
        "ALLOWED_HOSTS": "registry.example.org",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/agentreg"),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "AUDIT_CHECKPOINT_KEY": "another-long-secret-for-checkpoints-0123456789abcdef",
        "METRICS_TOKEN": "metrics-token-0123456789",
    }
    # when
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def page_values(agent, owner):
    return {"key": agent.key, "pk": owner.pk, "id": owner.pk, "slug": agent.business_unit.slug, "format": "json"}


@pytest.mark.parametrize("persona_name", ["admin"])
def test_no_page_carries_inline_scripts_or_style_attributes(persona_name, persona, page_values):
    # given a signed-in person
    client = Client()
    client.force_login(persona(persona_name))
    checked = 0
    # when every page is fetched
    for url in page_urls(page_values):
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        checked += 1
        html = response.content.decode()
        # then the browser is told to refuse inline code, and there is none to refuse
        assert "Content-Security-Policy" in response.headers, url
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], url
        assert not INLINE_SCRIPT.search(html), f"{url} has an inline <script>"
        assert not STYLE_ATTRIBUTE.search(html), f"{url} has a style= attribute"
    assert checked >= 5


def test_the_sign_in_page_and_error_pages_carry_no_inline_code(client, db):
    for url in ("/accounts/login/", "/no-such-page/"):
        html = client.get(url).content.decode()
        assert not INLINE_SCRIPT.search(html)
        assert not STYLE_ATTRIBUTE.search(html)


@pytest.mark.parametrize("persona_name", ["outsider", "admin"])
def test_get_requests_never_change_anything(persona_name, persona, page_values):
    # given a signed-in person, whatever their role
    client = Client()
    client.force_login(persona(persona_name))
    seq_before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    # when they GET every route the project has (pages and API)
    for url in page_urls(page_values):
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        # then nothing was written but the session
        writes = [m.group(3) for q in queries.captured_queries if (m := WRITE.match(q["sql"]))]
        assert set(writes) <= ALLOWED_WRITE_TABLES | {"registry_auditevent"}, f"GET {url} wrote to {writes}"
    # and the only audit rows are refusals (403s are recorded, not changes)
    new = set(AuditEvent.objects.filter(seq__gt=seq_before).values_list("event_type", flat=True))
    assert new <= {"auth.refused"}


def test_cookies_are_secure_http_only_and_hsts_is_on_in_production():
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x7Kq2-production-like-secret-9f8e7d6c5b4a3210-ZyXwVuTsRqPoNmLkJiHg",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_HTTPONLY, "
        "s.SECURE_HSTS_SECONDS >= 31536000, s.SECURE_SSL_REDIRECT, s.DEBUG)"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["True", "True", "True", "True", "True", "True", "False"], result.stderr


@pytest.mark.urls("tests.config.boom_urls")
def test_a_forced_error_shows_no_stack_trace(db):
    # given DEBUG is off (the test settings keep production's default)
    client = Client(raise_request_exception=False)
    # when a view fails
    response = client.get("/boom/")
    # then the person sees the plain error page with a reference, and nothing of the code
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in body
    assert "Traceback" not in body
    assert "RuntimeError" not in body
    assert "secret detail" not in body
    assert response["X-Request-ID"] in body


@pytest.mark.urls("tests.config.boom_urls")
def test_a_forced_api_error_is_json_without_a_trace(db):
    response = Client(raise_request_exception=False).get("/api/boom/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error. It has been logged.", "request_id": response["X-Request-ID"]}


def test_an_unknown_api_address_answers_json_404_and_a_page_address_the_html_page(client, db):
    api = client.get("/api/v1/agent-versions/1.5e-244/")
    page = client.get("/no-such-page/")
    assert (api.status_code, api["Content-Type"], api.json()) == (404, "application/json", {"detail": "Not found."})
    assert page.status_code == 404
    assert b"There is nothing here" in page.content


@pytest.mark.parametrize(
    ("value", "expected"), [("128", "128"), ("64MB", "must be a whole number"), ("0", "at least 1")]
)
def test_the_checks_work_mem_is_read_as_megabytes_and_a_bad_value_stops_start_up(value, expected):
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x7Kq2-production-like-secret-9f8e7d6c5b4a3210-ZyXwVuTsRqPoNmLkJiHg",
        "CHECKS_WORK_MEM_MB": value,
    }
    code = "import django; django.setup(); from django.conf import settings as s; print(s.CHECKS_WORK_MEM_MB)"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert expected in result.stdout + result.stderr
    assert (result.returncode == 0) == (value == "128")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7200", "7200 7140"), ("30", "30 60"), ("0", "at least 1 second"), ("hourly", "must be a whole number")],
)
def test_a_beat_interval_sets_the_schedule_and_an_expiry_that_is_never_negative(value, expected):
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x7Kq2-production-like-secret-9f8e7d6c5b4a3210-ZyXwVuTsRqPoNmLkJiHg",
        "DEADLINE_REFRESH_INTERVAL_SECONDS": value,
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "e = s.CELERY_BEAT_SCHEDULE['telemetry-refresh-deadlines']; print(e['schedule'], e['options']['expires'])"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert expected in result.stdout + result.stderr
    assert (result.returncode == 0) == (value in ("7200", "30"))
