"""Personal API tokens sent as ``Authorization: Bearer <token>``."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from registry import services
from registry.models import ApiToken

UNKNOWN = {"detail": "This API token is unknown, expired or revoked."}


@pytest.fixture
def bearer(api_client):
    def use(raw):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return api_client

    return use


def test_a_valid_token_acts_as_its_user(owner, agent, bearer):
    # given
    _, raw = services.create_api_token(owner, actor=owner, name="script")

    # when
    response = bearer(raw).patch(f"/api/v1/agents/{agent.key}/", {"name": "Renamed by script"}, format="json")

    # then
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed by script"


def test_a_token_records_when_it_was_last_used(owner, bearer):
    # given
    with time_machine.travel("2026-04-01 08:00Z", tick=False):
        token, raw = services.create_api_token(owner, actor=owner, name="script")
        assert token.last_used_at is None

        # when
        bearer(raw).get("/api/v1/agents/")

    # then
    token.refresh_from_db()
    assert token.last_used_at == datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def test_last_used_is_touched_at_most_once_a_minute(owner, bearer):
    with time_machine.travel("2026-04-01 08:00Z", tick=False) as traveller:
        token, raw = services.create_api_token(owner, actor=owner, name="script")
        bearer(raw).get("/api/v1/agents/")
        first = ApiToken.objects.get(pk=token.pk).last_used_at
        traveller.shift(timedelta(seconds=30))
        bearer(raw).get("/api/v1/agents/")
        assert ApiToken.objects.get(pk=token.pk).last_used_at == first
        traveller.shift(timedelta(seconds=61))
        bearer(raw).get("/api/v1/agents/")
        assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def test_a_revoked_token_is_refused(owner, bearer):
    token, raw = services.create_api_token(owner, actor=owner, name="script")
    services.revoke_api_token(token, actor=owner)
    response = bearer(raw).get("/api/v1/agents/")
    assert response.status_code == 401
    assert response.json() == UNKNOWN
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_refused(owner, bearer):
    with time_machine.travel("2026-04-01 08:00Z", tick=False) as traveller:
        _, raw = services.create_api_token(owner, actor=owner, name="script", expires_at=timezone.now() + timedelta(1))
        assert bearer(raw).get("/api/v1/agents/").status_code == 200
        traveller.shift(timedelta(days=1, seconds=1))
        response = bearer(raw).get("/api/v1/agents/")
    assert response.status_code == 401
    assert response.json() == UNKNOWN


def test_a_deactivated_users_token_is_refused(owner, admin, bearer):
    # given: deactivation revokes tokens; even an un-revoked one stops working
    token, raw = services.create_api_token(owner, actor=owner, name="script")
    services.deactivate_user(owner, actor=admin)
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=None)

    # when
    response = bearer(raw).get("/api/v1/agents/")

    # then
    assert response.status_code == 401
    assert response.json() == UNKNOWN


@pytest.mark.parametrize("raw", ["agr_not-a-real-token", "agr_"])
def test_an_unknown_token_is_refused(db, bearer, raw):
    response = bearer(raw).get("/api/v1/agents/")
    assert response.status_code == 401
    assert response.json() == UNKNOWN


def test_a_malformed_header_is_refused_clearly(db, api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer agr_a agr_b")
    response = api_client.get("/api/v1/agents/")
    assert response.status_code == 401
    assert response.json() == {"detail": "The Authorization header must be 'Bearer <token>'."}


def test_no_credentials_is_a_401_json_error(db, api_client):
    response = api_client.get("/api/v1/agents/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_token_carries_only_its_users_permissions(employee, agent, bearer):
    _, raw = services.create_api_token(employee, actor=employee, name="script")
    response = bearer(raw).patch(f"/api/v1/agents/{agent.key}/", {"name": "Hijacked"}, format="json")
    assert response.status_code == 403


def test_token_writes_need_no_csrf_token(owner, agent):
    # given: a client that enforces CSRF like a browser would
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    _, raw = services.create_api_token(owner, actor=owner, name="script")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    # when
    response = client.patch(f"/api/v1/agents/{agent.key}/", {"name": "Renamed"}, format="json")

    # then
    assert response.status_code == 200


def test_a_user_creates_and_revokes_a_token_on_the_profile_page(client_for, owner, bearer):
    # given
    client = client_for(owner)

    # when
    response = client.post("/profile/", {"name": "laptop"})

    # then
    raw = response.context["new_token"]
    assert raw in response.content.decode()
    assert bearer(raw).get("/api/v1/agents/").status_code == 200
    token = ApiToken.objects.get(user=owner)
    assert raw not in client.get("/profile/").content.decode()
    client.post("/profile/", {"revoke": token.pk})
    assert bearer(raw).get("/api/v1/agents/").status_code == 401
