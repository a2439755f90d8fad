"""Leases: one process at a time holds a named right (Celery beat's, so there is only one beat).

A lease is a row (registry.ProcessLease). Each step is one conditional UPDATE that the database
applies atomically, so two processes racing for the same lease cannot both win, on PostgreSQL
(through a transaction-pooling PgBouncer too: nothing outlives the statement) and on SQLite:

1. ``acquire`` makes sure the row exists (INSERT ... ON CONFLICT DO NOTHING, as a free lease), then
   takes it where it is free, expired, or already ours: ``UPDATE ... WHERE name = %s AND
   (expires_at <= now OR holder = me)``. One row changed: we hold it until now + ttl.
2. ``renew`` pushes ``expires_at`` on where the holder is still us. No row changed means another
   process took the lease after it expired: the caller must stop.
3. ``release`` frees it where the holder is us, so a restart does not wait for the expiry.

Time is the application's clock (``timezone.now()``): hosts that share a lease need NTP, and a skew
of a few seconds is harmless against a TTL of a minute.
"""

import os
import secrets
import socket
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from registry.models import ProcessLease


def holder_id() -> str:
    """Who is asking, unique across machines and restarts: host, process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def acquire(name: str, holder: str, ttl_seconds: float, *, now=None) -> bool:
    """Take ``name`` for ``ttl_seconds`` if nobody else holds it unexpired; True when we hold it."""
    now = now or timezone.now()
    ProcessLease.objects.bulk_create([ProcessLease(name=name, holder="", expires_at=now)], ignore_conflicts=True)
    taken = ProcessLease.objects.filter(Q(expires_at__lte=now) | Q(holder=holder), name=name).update(
        holder=holder, acquired_at=now, renewed_at=now, expires_at=now + timedelta(seconds=ttl_seconds)
    )
    return taken == 1


def renew(name: str, holder: str, ttl_seconds: float, *, now=None) -> bool:
    """Hold ``name`` for another ``ttl_seconds``; False when another holder has taken it.

    A lease that expired while nobody else took it is still ours: nobody ran in between.
    """
    now = now or timezone.now()
    return (
        ProcessLease.objects.filter(name=name, holder=holder).update(
            renewed_at=now, expires_at=now + timedelta(seconds=ttl_seconds)
        )
        == 1
    )


def release(name: str, holder: str, *, now=None) -> bool:
    """Give ``name`` back if we hold it, so the next process need not wait for the expiry."""
    now = now or timezone.now()
    return ProcessLease.objects.filter(name=name, holder=holder).update(holder="", expires_at=now) == 1


def current(name: str) -> ProcessLease | None:
    """The lease as stored (for messages: who holds it and until when)."""
    return ProcessLease.objects.filter(name=name).first()
