"""Management commands: create_api_token (verify_audit is covered in test_audit.py)."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from registry import services
from registry.models import ApiToken, AuditEvent


def test_create_api_token_prints_a_working_token_once(owner, api_client):
    # given
    out, err = StringIO(), StringIO()

    # when
    call_command("create_api_token", owner.username, "--name", "nightly export", stdout=out, stderr=err)

    # then
    raw = out.getvalue().strip()
    token = ApiToken.objects.get(user=owner)
    assert raw.startswith("agr_")
    assert token.prefix == raw[:12]
    assert raw not in token.digest
    assert token.digest == services.hash_token(raw)
    assert token.name == "nightly export"
    assert token.expires_at is None
    assert "shown only once" in err.getvalue()
    event = AuditEvent.objects.get(event_type="api_token.created")
    assert event.actor is None
    assert event.actor_repr == "system"
    assert event.after["user"] == owner.pk
    assert event.after["name"] == "nightly export"
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/v1/agents/").status_code == 200


@time_machine.travel("2026-03-01 09:00Z", tick=False)
def test_create_api_token_sets_the_expiry(owner):
    # when
    call_command("create_api_token", owner.username, "--expires-days", "30", stdout=StringIO(), stderr=StringIO())

    # then
    assert ApiToken.objects.get(user=owner).expires_at == timezone.now() + timedelta(days=30)


def test_create_api_token_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No account is called 'nobody'"):
        call_command("create_api_token", "nobody", stdout=StringIO(), stderr=StringIO())


def test_create_api_token_refuses_a_deactivated_user(owner, admin):
    # given
    services.deactivate_user(owner, actor=admin)

    # when / then
    with pytest.raises(CommandError, match="deactivated"):
        call_command("create_api_token", owner.username, stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.filter(user=owner).exists()


def test_create_api_token_refuses_a_non_positive_expiry(owner):
    with pytest.raises(CommandError, match="positive"):
        call_command("create_api_token", owner.username, "--expires-days", "0", stdout=StringIO(), stderr=StringIO())
