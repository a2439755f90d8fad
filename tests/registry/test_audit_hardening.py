"""The audit trail under concurrent writers, signed checkpoints of its head, and its retention floor."""

import json
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from registry import audit
from registry.checks import check_audit_retention
from registry.models import AuditEvent
from tests.factories import UserFactory
from tests.flush_support import flushable_audit  # noqa: F401 (fixture)

WRITERS = 4
# 4 x 250 keeps the suite fast; bench/audit_concurrency.py runs the full 4 x 1,000.
EVENTS_PER_WRITER = 250


def write_events(target_pk: int, count: int, errors: list) -> None:
    """One writer: its own database connection, one transaction per event, as concurrent requests would."""
    from registry.models import User

    try:
        target = User.objects.get(pk=target_pk)
        for n in range(count):
            with transaction.atomic():
                audit.record("test.concurrent", actor=None, target=target, after={"n": n})
    except Exception as exc:  # noqa: BLE001 (reported to the main thread)
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (SQLite locks the whole file)"
)
@pytest.mark.usefixtures("flushable_audit")
def test_concurrent_writers_leave_a_gapless_verified_chain(transactional_db):
    # given
    target = UserFactory(username="target")
    before = AuditEvent.objects.count()
    errors: list = []
    threads = [
        threading.Thread(target=write_events, args=(target.pk, EVENTS_PER_WRITER, errors)) for _ in range(WRITERS)
    ]
    # when four writers append at once, each on its own connection
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # then every event is there, numbered without gaps, and the chain verifies
    assert errors == []
    total = before + WRITERS * EVENTS_PER_WRITER
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))
    report = audit.verify_chain()
    assert report.ok, report.reason
    assert report.checked == total


@pytest.fixture
def checkpoint_key(settings):
    settings.AUDIT_CHECKPOINT_KEY = "k" * 40
    return settings


@pytest.fixture
def trail(agent):
    return AuditEvent.objects.order_by("-seq").first()


def export(capsys) -> dict:
    call_command("export_audit_checkpoint")
    return json.loads(capsys.readouterr().out)


def test_a_checkpoint_names_the_chain_head_and_is_signed(checkpoint_key, trail, capsys):
    checkpoint = export(capsys)
    assert checkpoint["seq"] == trail.seq
    assert checkpoint["hash"] == trail.hash
    assert checkpoint["occurred_at"] == trail.occurred_at.isoformat()
    assert checkpoint["algorithm"] == "hmac-sha256"
    assert len(checkpoint["signature"]) == 64


def test_a_fresh_checkpoint_verifies(checkpoint_key, trail, capsys, tmp_path):
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(export(capsys)))
    call_command("verify_audit_checkpoint", str(path))
    assert f"checkpoint #{trail.seq} matches" in capsys.readouterr().out


def test_it_still_verifies_after_more_entries_are_appended(checkpoint_key, trail, capsys, tmp_path, owner, unit):
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(export(capsys)))
    audit.record("test.later", actor=owner, target=unit)
    call_command("verify_audit_checkpoint", str(path))


def test_it_refuses_an_altered_checkpoint(checkpoint_key, trail, capsys, tmp_path):
    checkpoint = export(capsys)
    checkpoint["seq"] -= 1
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(checkpoint))
    with pytest.raises(CommandError, match="signature does not match"):
        call_command("verify_audit_checkpoint", str(path))


def test_it_refuses_a_checkpoint_signed_with_another_key(checkpoint_key, trail, capsys, tmp_path):
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(export(capsys)))
    checkpoint_key.AUDIT_CHECKPOINT_KEY = "z" * 40
    with pytest.raises(CommandError, match="signature does not match"):
        call_command("verify_audit_checkpoint", str(path))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="switches off the PostgreSQL append-only trigger")
def test_it_notices_a_rewritten_trail(checkpoint_key, trail, capsys, tmp_path):
    # given a checkpoint kept elsewhere
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(export(capsys)))
    # when someone with database superuser rights switches the trigger off and rewrites the head entry
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE registry_auditevent DISABLE TRIGGER registry_auditevent_append_only")
        cursor.execute("UPDATE registry_auditevent SET hash = %s WHERE seq = %s", ["f" * 64, trail.seq])
        cursor.execute("ALTER TABLE registry_auditevent ENABLE TRIGGER registry_auditevent_append_only")
    # then the checkpoint no longer holds
    with pytest.raises(CommandError, match=f"entry #{trail.seq} differs from the checkpoint"):
        call_command("verify_audit_checkpoint", str(path))


def test_it_needs_the_key(settings, trail):
    settings.AUDIT_CHECKPOINT_KEY = ""
    with pytest.raises(CommandError, match="AUDIT_CHECKPOINT_KEY"):
        call_command("export_audit_checkpoint")


def test_retention_below_six_months_is_refused_at_start_up(settings):
    settings.AUDIT_RETENTION_DAYS = 90
    assert [e.id for e in check_audit_retention(None)] == ["registry.E002"]
    settings.AUDIT_RETENTION_DAYS = 183
    assert check_audit_retention(None) == []


def test_the_default_retention_is_more_than_six_months():
    from config import settings as base

    assert base.AUDIT_RETENTION_DAYS >= 183
