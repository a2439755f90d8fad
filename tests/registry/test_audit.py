"""The hash-chained audit trail: appends, verification, tampering, and the database's refusal to edit it."""

from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from registry import audit
from registry.models import AuditEvent

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's")


@contextmanager
def trigger_disabled():
    """Tampering needs the append-only trigger off; it goes back on before the test ends."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE registry_auditevent DISABLE TRIGGER registry_auditevent_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE registry_auditevent ENABLE TRIGGER registry_auditevent_append_only")


@pytest.fixture
def trail(agent, owner):
    """Five or more entries: the agent's creation, its delegate grant, and three edits."""
    from registry import services

    for name in ("Leave helper", "Leave buddy", "Leave assistant"):
        services.update_agent(agent, actor=owner, name=name)
    return list(AuditEvent.objects.order_by("seq"))


def run_verify() -> tuple[str, CommandError | None]:
    from io import StringIO

    out = StringIO()
    try:
        call_command("verify_audit", stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_each_entry_links_to_the_one_before(trail):
    # then
    assert [e.seq for e in trail] == list(range(1, len(trail) + 1))
    assert trail[0].prev_hash == audit.GENESIS_HASH
    for previous, entry in zip(trail, trail[1:], strict=False):
        assert entry.prev_hash == previous.hash


def test_verify_audit_reports_an_intact_chain(trail):
    # when
    output, error = run_verify()

    # then
    assert error is None
    assert f"Checked {len(trail)} entries: chain intact." in output


def test_verify_audit_passes_on_an_empty_trail(db):
    output, error = run_verify()
    assert error is None
    assert "Checked 0 entries: chain intact." in output


def test_it_detects_a_changed_entry_and_names_it(trail):
    # given: someone rewrites what the third entry says
    third = trail[2]
    with trigger_disabled():
        AuditEvent.objects.filter(pk=third.pk).update(after={"name": "Something else"})

    # when
    output, error = run_verify()

    # then
    assert error is not None
    assert f"entry #{third.seq} was changed after it was written" in str(error)
    assert "Checked 2 entries before the break." in output


def test_it_detects_a_changed_actor_name(trail):
    # given
    with trigger_disabled():
        AuditEvent.objects.filter(pk=trail[1].pk).update(actor_repr="somebody else")

    # when
    report = audit.verify_chain()

    # then
    assert (report.ok, report.first_broken_seq) == (False, trail[1].seq)


def test_it_detects_a_deleted_entry_as_a_gap(trail):
    # given
    removed = trail[2]
    with trigger_disabled():
        AuditEvent.objects.filter(pk=removed.pk).delete()

    # when
    output, error = run_verify()

    # then
    assert error is not None
    assert f"entry #{removed.seq} is missing (next is #{removed.seq + 1})" in str(error)


def test_it_detects_an_entry_relinked_after_a_deletion(trail):
    # given: the last entry is deleted and the sequence "repaired" by renumbering
    # the following one, whose prev_hash still names the deleted entry
    removed, following = trail[2], trail[3]
    with trigger_disabled():
        AuditEvent.objects.filter(pk=removed.pk).delete()
        AuditEvent.objects.filter(pk=following.pk).update(seq=removed.seq)

    # when
    report = audit.verify_chain()

    # then
    assert report.first_broken_seq == removed.seq
    assert report.reason == f"entry #{removed.seq} does not link to entry #{removed.seq - 1}"


def test_it_detects_a_forged_entry_with_a_recomputed_hash(trail):
    # given: a forger rewrites an entry and recomputes its own hash, but cannot
    # rewrite every later entry's prev_hash
    target = trail[1]
    target.after = {"delegate_name": "Mallory"}
    forged = audit.compute_hash(audit.hashed_fields(target), target.prev_hash)
    with trigger_disabled():
        AuditEvent.objects.filter(pk=target.pk).update(after=target.after, hash=forged)

    # when
    report = audit.verify_chain()

    # then
    assert report.first_broken_seq == trail[2].seq
    assert "does not link" in report.reason


@postgres_only
def test_the_database_refuses_to_update_an_entry(trail):
    # when / then
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=trail[0].pk).update(actor_repr="x")
    assert AuditEvent.objects.get(pk=trail[0].pk).actor_repr == trail[0].actor_repr


@postgres_only
def test_the_database_refuses_to_delete_an_entry(trail):
    # when / then
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=trail[0].pk).delete()
    assert AuditEvent.objects.count() == len(trail)


@postgres_only
def test_the_database_refuses_to_truncate_the_trail(trail):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE registry_auditevent")
    assert AuditEvent.objects.count() == len(trail)


def test_a_failed_service_call_leaves_no_audit_entry(agent, employee):
    # given
    from django.core.exceptions import PermissionDenied

    from registry import services

    before = AuditEvent.objects.count()

    # when
    with pytest.raises(PermissionDenied):
        services.update_agent(agent, actor=employee, name="Hijacked")

    # then
    assert AuditEvent.objects.count() == before


def test_entries_carry_the_request_correlation_id(agent, owner):
    # given
    from registry import services

    token = audit.correlation_id_var.set("req-123")
    try:
        # when
        services.update_agent(agent, actor=owner, name="Leave helper")
    finally:
        audit.correlation_id_var.reset(token)

    # then
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.correlation_id == "req-123"
    assert audit.verify_chain().ok
