"""Celery beat that runs only while it holds the beat lease, so there is exactly one beat.

Two beats would queue every periodic task twice. ``LeasedScheduler`` (CELERY_BEAT_SCHEDULER) takes
the lease ``celery-beat`` (registry/leases.py) before it opens its schedule:

1. Taken: beat runs, and renews the lease every BEAT_LEASE_RENEW_SECONDS from its own loop (each
   tick waits at most until the next renewal).
2. Held by another live beat: this one exits with status 1 and says who holds it until when.
3. Renewal finds another holder (this beat was paused past the TTL, another took over): it stops
   sending at once and exits with status 1.
4. Renewal fails because the database is unreachable: it retries; once the lease it last renewed
   has run out it sends nothing until a renewal succeeds (then carries on) or finds another holder.
5. A clean stop (SIGTERM, Ctrl-C) gives the lease back, so a restart starts at once; a beat that
   was killed leaves it to expire after BEAT_LEASE_TTL_SECONDS.
"""

import logging
import time

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

logger = logging.getLogger(__name__)

LEASE_NAME = "celery-beat"
# How soon to try again after the database refused a renewal.
RETRY_SECONDS = 5.0


def _describe(lease) -> str:
    if lease is None or not lease.holder:
        return "another beat"
    return f"the beat {lease.holder} (until {lease.expires_at.isoformat(timespec='seconds')})"


class LeasedScheduler(PersistentScheduler):
    """Celery's file-backed scheduler, running only while it holds the beat lease."""

    def __init__(self, *args, **kwargs):
        from registry import leases

        self.holder = leases.holder_id()
        self.ttl = settings.BEAT_LEASE_TTL_SECONDS
        self.renew_every = settings.BEAT_LEASE_RENEW_SECONDS
        self._held = False
        self._renew_at = 0.0  # time.monotonic() of the next renewal
        self._valid_until = 0.0  # time.monotonic() when the lease last renewed runs out
        self._lost = ""
        super().__init__(*args, **kwargs)

    def setup_schedule(self):
        """Take the lease before anything else (called only for the scheduler that will run)."""
        from registry import leases

        close_old_connections()
        started = time.monotonic()
        if not leases.acquire(LEASE_NAME, self.holder, self.ttl):
            message = (
                f"celery beat refused to start: {_describe(leases.current(LEASE_NAME))} holds the beat lease. "
                "Only one beat may run; stop the other one, or, if it was killed, wait for its lease to run "
                "out (BEAT_LEASE_TTL_SECONDS)."
            )
            logger.critical(message)
            raise SystemExit(message)
        self._held = True
        self._valid_until = started + self.ttl
        self._renew_at = started + self.renew_every
        logger.info("beat holds the beat lease as %s (renewed every %ss)", self.holder, self.renew_every)
        super().setup_schedule()

    def tick(self, *args, **kwargs):
        if time.monotonic() >= self._renew_at:
            self._renew()
        now = time.monotonic()
        if now >= self._valid_until:
            # Not confirmed as the holder: send nothing until a renewal says so.
            return max(self._renew_at - now, 0.1)
        interval = super().tick(*args, **kwargs)
        return max(min(interval, self._renew_at - time.monotonic()), 0)

    def _renew(self) -> None:
        from registry import leases

        started = time.monotonic()
        try:
            close_old_connections()
            renewed = leases.renew(LEASE_NAME, self.holder, self.ttl)
            lease = None if renewed else leases.current(LEASE_NAME)
        except DatabaseError as exc:
            logger.warning("beat could not renew its lease (%s); trying again in %ss", exc, RETRY_SECONDS)
            connection.close()  # a fresh connection next time
            self._renew_at = started + RETRY_SECONDS
            return
        if renewed:
            self._valid_until = started + self.ttl
            self._renew_at = started + self.renew_every
            return
        self._held = False
        self._lost = (
            f"celery beat stopped: {_describe(lease)} took over the beat lease after it ran out here. "
            "Only one beat may run."
        )
        logger.critical(self._lost)
        # Celery's beat loop catches SystemExit, stops and closes the scheduler; close() then exits with 1.
        raise SystemExit(self._lost)

    def close(self):
        try:
            super().close()
        finally:
            self._release()
        if self._lost:
            raise SystemExit(self._lost)

    def _release(self) -> None:
        if not self._held:
            return
        from registry import leases

        self._held = False
        try:
            close_old_connections()
            leases.release(LEASE_NAME, self.holder)
            logger.info("beat gave back the beat lease")
        except DatabaseError as exc:
            logger.warning("beat could not give back its lease (%s); it runs out by itself", exc)
