"""Sign-ins, failures, sign-outs and refusals on the audit trail; repeated failures lock the name out."""

from datetime import UTC

import pytest
from django.core.cache import cache

from registry.models import AuditEvent
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_failure_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def person(unit):
    user = UserFactory(username="pat", business_unit=unit)
    user.set_password("correct horse battery")
    user.save()
    return user


def sign_in(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_a_sign_in_is_audited_with_a_utc_time_and_the_request_id(client, person):
    # when
    response = sign_in(client, "pat", "correct horse battery")
    # then
    assert response.status_code == 302
    event = AuditEvent.objects.get(event_type="auth.login")
    assert event.actor == person
    assert event.after["method"] == "password"
    assert event.after["ip"] == "127.0.0.1"
    assert event.occurred_at.utcoffset().total_seconds() == 0
    assert event.occurred_at.astimezone(UTC) == event.occurred_at
    assert event.correlation_id == response["X-Request-ID"]


def test_a_failed_sign_in_is_audited_for_known_and_unknown_names(client, person):
    sign_in(client, "pat", "wrong")
    sign_in(client, "nobody-here", "wrong")
    events = list(AuditEvent.objects.filter(event_type="auth.login_failed").order_by("seq"))
    assert [(e.target_repr, e.target_id) for e in events] == [("pat", str(person.pk)), ("nobody-here", "")]
    assert all(e.actor is None for e in events)


def test_a_sign_out_is_audited(client, person):
    client.force_login(person)
    client.post("/accounts/logout/")
    assert AuditEvent.objects.filter(event_type="auth.logout", actor=person).exists()


def test_it_locks_a_name_out_after_repeated_failures_even_with_the_right_password(client, person, settings):
    # given five failed attempts
    settings.LOGIN_FAILURE_LIMIT = 5
    for _ in range(5):
        assert sign_in(client, "pat", "wrong").status_code == 200
    # when the right password comes next
    response = sign_in(client, "pat", "correct horse battery")
    # then the name stays locked and the page says why
    assert response.status_code == 200
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session
    last = AuditEvent.objects.filter(event_type="auth.login_failed").order_by("-seq").first()
    assert last.after["locked_out"] is True


def test_the_lockout_ends_after_its_window(client, person, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    sign_in(client, "pat", "wrong")
    sign_in(client, "pat", "wrong")
    cache.clear()  # the window (LOGIN_LOCKOUT_SECONDS) has passed
    assert sign_in(client, "pat", "correct horse battery").status_code == 302


def test_a_success_clears_the_count(client, person, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    sign_in(client, "pat", "wrong")
    sign_in(client, "pat", "wrong")
    assert sign_in(client, "pat", "correct horse battery").status_code == 302
    client.post("/accounts/logout/")
    sign_in(client, "pat", "wrong")
    assert sign_in(client, "pat", "correct horse battery").status_code == 302


def test_force_login_still_works_while_a_name_is_locked(client, person, settings):
    settings.LOGIN_FAILURE_LIMIT = 1
    sign_in(client, "pat", "wrong")
    client.force_login(person)
    assert client.get("/").status_code == 200


def test_a_refused_page_is_audited(client_for, employee, agent):
    # when someone who may see the agent but not change it opens its edit page
    response = client_for(employee).get(f"/agents/{agent.key}/edit/")
    # then the 403 is on the trail with who, what and where
    assert response.status_code == 403
    event = AuditEvent.objects.filter(event_type="auth.refused").get()
    assert event.actor == employee
    assert event.after["path"] == f"/agents/{agent.key}/edit/"
    assert event.after["method"] == "GET"


def test_a_refused_api_call_is_audited(api_for, employee, agent):
    response = api_for(employee).patch(f"/api/v1/agents/{agent.key}/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(event_type="auth.refused", actor=employee, after__method="PATCH").exists()


def test_an_anonymous_refusal_is_not_written_to_the_trail(client, db):
    client.post("/accounts/login/", {"username": "x"}, HTTP_X_CSRFTOKEN="nope")
    csrf_client = client.__class__(enforce_csrf_checks=True)
    response = csrf_client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert b"Form expired" in response.content
    assert not AuditEvent.objects.filter(event_type="auth.refused").exists()
