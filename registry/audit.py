"""Writing and verifying the hash-chained audit trail.

Services call :func:`record` inside their own transaction, so an audit row
exists exactly when the change it describes was committed.

Chaining needs one writer at a time: on PostgreSQL a transaction-level
advisory lock serialises appends (held until commit, so the next writer reads
the committed head); SQLite's IMMEDIATE transactions already serialise writers.
"""

import contextvars
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, models, transaction
from django.utils import timezone

from registry.chunked import in_chunks
from registry.models import Agent, AuditEvent

GENESIS_HASH = "0" * 64
# Arbitrary constant identifying the audit-append advisory lock.
AUDIT_LOCK_KEY = 7_310_431_001

correlation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def to_json_value(value):
    """A JSON value that reads back identically, so hashes can be recomputed from stored rows."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, float):
        return repr(value)
    return value


def snapshot(instance: models.Model, fields) -> dict:
    """The named fields of an instance as JSON values (foreign keys as their ids)."""
    data = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attname = getattr(field, "attname", name)
        data[name] = to_json_value(getattr(instance, attname))
    return data


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def compute_hash(fields: dict, prev_hash: str) -> str:
    payload = json.dumps({**fields, "prev_hash": prev_hash}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def hashed_fields(event: AuditEvent) -> dict:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_repr": event.actor_repr,
        "event_type": event.event_type,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_repr": event.target_repr,
        "agent_id": event.agent_id,
        "before": event.before,
        "after": event.after,
        "correlation_id": event.correlation_id,
    }


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_LOCK_KEY])


def describe_actor(actor) -> str:
    if actor is None:
        return "system"
    return f"{actor.username} ({actor})" if str(actor) != actor.username else actor.username


def record(
    event_type: str,
    *,
    actor,
    target: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    agent: Agent | None = None,
    target_repr: str | None = None,
) -> AuditEvent:
    """Append one entry to the chain. Must run inside the caller's transaction."""
    with transaction.atomic():
        _lock_chain()
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        prev_seq, prev_hash = head if head else (0, GENESIS_HASH)
        if agent is None and isinstance(target, Agent):
            agent = target
        event = AuditEvent(
            seq=prev_seq + 1,
            occurred_at=timezone.now(),
            actor=actor,
            actor_repr=describe_actor(actor)[:200],
            event_type=event_type,
            target_type=target._meta.label_lower,
            target_id="" if target.pk is None else str(target.pk),
            target_repr=(target_repr if target_repr is not None else str(target))[:300],
            agent=agent,
            before=to_json_value(before or {}),
            after=to_json_value(after or {}),
            correlation_id=correlation_id_var.get(),
            prev_hash=prev_hash,
        )
        event.hash = compute_hash(hashed_fields(event), prev_hash)
        event.save(force_insert=True)
        return event


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit entry to append with :func:`record_many`."""

    event_type: str
    target: models.Model
    before: dict | None = None
    after: dict | None = None
    agent: Agent | None = None
    target_repr: str | None = None


AUDIT_COPY_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_repr",
    "event_type",
    "target_type",
    "target_id",
    "target_repr",
    "agent_id",
    "before",
    "after",
    "correlation_id",
    "prev_hash",
    "hash",
)


def record_many(entries: list[Entry], *, actor) -> int:
    """Append many entries in a constant number of queries (one lock, one read of the head, one write),
    chained in the order given: exactly what :func:`record` would have written for each in turn. For
    services that act on many agents at once (deprovisioning an owner of hundreds of agents, a bulk
    import of thousands). On PostgreSQL the rows go in with COPY, since building a model instance per
    entry would cost more than the import itself. Must run inside the caller's transaction. Returns the
    number of entries written."""
    if not entries:
        return 0
    with transaction.atomic():
        _lock_chain()
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev_hash = head if head else (0, GENESIS_HASH)
        now = timezone.now()
        occurred_at = now.isoformat()
        actor_id = getattr(actor, "pk", None)
        actor_repr = describe_actor(actor)[:200]
        correlation_id = correlation_id_var.get()
        rows = []
        for entry in entries:
            seq += 1
            target = entry.target
            agent = entry.agent if entry.agent is not None or not isinstance(target, Agent) else target
            fields = {
                "seq": seq,
                "occurred_at": occurred_at,
                "actor_id": actor_id,
                "actor_repr": actor_repr,
                "event_type": entry.event_type,
                "target_type": target._meta.label_lower,
                "target_id": "" if target.pk is None else str(target.pk),
                "target_repr": (entry.target_repr if entry.target_repr is not None else str(target))[:300],
                "agent_id": agent.pk if agent is not None else None,
                "before": to_json_value(entry.before or {}),
                "after": to_json_value(entry.after or {}),
                "correlation_id": correlation_id,
            }
            digest = compute_hash(fields, prev_hash)
            rows.append({**fields, "occurred_at": now, "prev_hash": prev_hash, "hash": digest})
            prev_hash = digest
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                columns = ", ".join(AUDIT_COPY_COLUMNS)
                with cursor.copy(f"COPY {AuditEvent._meta.db_table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(
                            [
                                json.dumps(row[c], separators=(",", ":")) if c in ("before", "after") else row[c]
                                for c in AUDIT_COPY_COLUMNS
                            ]
                        )
        else:
            AuditEvent.objects.bulk_create(
                [AuditEvent(**{c: row[c] for c in AUDIT_COPY_COLUMNS}) for row in rows],
                batch_size=500,
            )
    return len(rows)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_seq: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


def verify_chain(batch_size: int = 2000) -> ChainReport:
    """Walk the whole trail in order and report the first entry whose chain breaks.

    A break is a gap in the sequence, a ``prev_hash`` that is not the previous
    entry's hash, or a stored hash that does not match the entry's content.
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in in_chunks(AuditEvent.objects.all(), by="seq", size=batch_size):
        if event.seq != expected_seq:
            return ChainReport(checked, expected_seq, f"entry #{expected_seq} is missing (next is #{event.seq})")
        if event.prev_hash != expected_prev:
            return ChainReport(checked, event.seq, f"entry #{event.seq} does not link to entry #{event.seq - 1}")
        if compute_hash(hashed_fields(event), event.prev_hash) != event.hash:
            return ChainReport(checked, event.seq, f"entry #{event.seq} was changed after it was written")
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    return ChainReport(checked, None, "chain intact")


# --- Signed checkpoints of the chain head -------------------------------------
# A checkpoint is kept outside the database (a ticket, a vault, a printout). If
# someone later rewrites the trail, trigger and all, the entry the checkpoint
# names no longer matches, and the HMAC, keyed with AUDIT_CHECKPOINT_KEY (never
# stored in the database), stops anyone who can write the database from simply
# forging a new checkpoint to match.

CHECKPOINT_ALGORITHM = "hmac-sha256"
CHECKPOINT_FIELDS = ("seq", "hash", "occurred_at")


def _checkpoint_key() -> bytes:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    key = getattr(settings, "AUDIT_CHECKPOINT_KEY", "")
    if not key:
        raise ImproperlyConfigured(
            "AUDIT_CHECKPOINT_KEY (or AUDIT_CHECKPOINT_KEY_FILE) must be set to sign checkpoints."
        )
    return key.encode()


def sign_checkpoint(fields: dict) -> str:
    import hmac

    message = json.dumps({k: fields[k] for k in CHECKPOINT_FIELDS}, sort_keys=True, separators=(",", ":"))
    return hmac.new(_checkpoint_key(), message.encode(), hashlib.sha256).hexdigest()


def export_checkpoint() -> dict:
    """The signed head of the chain: ``{seq, hash, occurred_at, algorithm, signature}``."""
    head = AuditEvent.objects.order_by("-seq").first()
    if head is None:
        fields = {"seq": 0, "hash": GENESIS_HASH, "occurred_at": None}
    else:
        fields = {"seq": head.seq, "hash": head.hash, "occurred_at": head.occurred_at.isoformat()}
    return {**fields, "algorithm": CHECKPOINT_ALGORITHM, "signature": sign_checkpoint(fields)}


def verify_checkpoint(checkpoint: dict) -> tuple[bool, str]:
    """Check a checkpoint's signature, that the live trail still holds its entry unchanged, and the chain."""
    import hmac

    try:
        fields = {k: checkpoint[k] for k in CHECKPOINT_FIELDS}
        signature = str(checkpoint["signature"])
    except (KeyError, TypeError):
        return False, f"not a checkpoint: it needs {', '.join(CHECKPOINT_FIELDS)} and signature"
    if checkpoint.get("algorithm", CHECKPOINT_ALGORITHM) != CHECKPOINT_ALGORITHM:
        return False, f"unknown algorithm {checkpoint.get('algorithm')!r}"
    if not hmac.compare_digest(sign_checkpoint(fields), signature):
        return False, "the signature does not match: the checkpoint was altered or signed with another key"
    seq = fields["seq"]
    if seq:
        entry = AuditEvent.objects.filter(seq=seq).first()
        if entry is None:
            return False, f"entry #{seq} named by the checkpoint no longer exists"
        if entry.hash != fields["hash"] or entry.occurred_at.isoformat() != fields["occurred_at"]:
            return False, f"entry #{seq} differs from the checkpoint: the trail was rewritten"
    report = verify_chain()
    if not report.ok:
        return False, f"the chain is broken: {report.reason}"
    return True, f"checkpoint #{seq} matches; chain intact through #{report.checked}"
