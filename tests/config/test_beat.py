"""Celery beat runs only while it holds the beat lease (config/beat.py), in-process.

The real-process proof (two `celery beat` commands) is in tests/config/test_beat_process.py.
"""

from datetime import timedelta

import pytest
from celery.beat import PersistentScheduler
from django.db import OperationalError
from django.utils import timezone

from config import beat
from config.celery import app
from registry import leases
from registry.models import ProcessLease

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def connections_closed(monkeypatch):
    """The scheduler recycles its connection as a long-running process must; inside a test's
    transaction that would end the transaction, so here it only records that it was asked to."""
    closed = []
    monkeypatch.setattr(beat, "close_old_connections", lambda: None)
    monkeypatch.setattr(beat.connection, "close", lambda: closed.append(True))
    return closed


@pytest.fixture
def scheduler(tmp_path, settings):
    settings.BEAT_LEASE_TTL_SECONDS = 60
    settings.BEAT_LEASE_RENEW_SECONDS = 15
    made = []

    def make():
        made.append(beat.LeasedScheduler(app=app, schedule_filename=str(tmp_path / f"schedule-{len(made)}")))
        return made[-1]

    yield make
    for one in made:
        if one._store is not None:
            one._store.close()


def _steal(holder="elsewhere:1:abcd"):
    ProcessLease.objects.filter(name=beat.LEASE_NAME).update(
        holder=holder, expires_at=timezone.now() + timedelta(minutes=1)
    )


def test_the_first_beat_takes_the_lease_and_a_second_refuses_to_start(scheduler):
    # given a running beat
    first = scheduler()
    assert leases.current(beat.LEASE_NAME).holder == first.holder
    # when a second beat starts, then it exits with status 1 and says who holds the lease
    with pytest.raises(SystemExit) as refused:
        scheduler()
    message = str(refused.value.code)
    assert message.startswith("celery beat refused to start:")
    assert first.holder in message
    assert "Only one beat may run" in message
    # and the first keeps the lease
    assert leases.current(beat.LEASE_NAME).holder == first.holder


def test_a_beat_that_lost_its_lease_stops_sending_and_exits_with_status_1(scheduler, monkeypatch):
    # given a running beat whose lease another beat took over (it was paused past the expiry)
    running = scheduler()
    _steal()
    sent = []
    monkeypatch.setattr(PersistentScheduler, "tick", lambda self, *a, **k: sent.append(1) or 1.0)
    running._renew_at = 0  # its renewal is due
    # when it ticks, then it stops before sending anything
    with pytest.raises(SystemExit):
        running.tick()
    assert sent == []
    # and closing it (what celery's loop does on SystemExit) exits with the message, leaving the lease alone
    with pytest.raises(SystemExit) as stopped:
        running.close()
    assert "took over the beat lease" in str(stopped.value.code)
    assert "elsewhere:1:abcd" in str(stopped.value.code)
    assert leases.current(beat.LEASE_NAME).holder == "elsewhere:1:abcd"


def test_each_tick_renews_when_due_and_sleeps_no_longer_than_the_next_renewal(scheduler, monkeypatch):
    # given a beat whose next task is 5 minutes away
    running = scheduler()
    monkeypatch.setattr(PersistentScheduler, "tick", lambda self, *a, **k: 300.0)
    before = leases.current(beat.LEASE_NAME).expires_at
    # when it ticks with its renewal due
    running._renew_at = 0
    interval = running.tick()
    # then the lease was pushed on and the beat wakes in time for the next renewal
    assert leases.current(beat.LEASE_NAME).expires_at >= before
    assert leases.current(beat.LEASE_NAME).renewed_at is not None
    assert 14 < interval <= 15


def test_an_unreachable_database_pauses_sending_once_the_lease_ran_out_then_beat_carries_on(
    scheduler, monkeypatch, connections_closed
):
    # given a beat whose lease ran out locally while the database refused every renewal
    running = scheduler()
    sent = []
    monkeypatch.setattr(PersistentScheduler, "tick", lambda self, *a, **k: sent.append(1) or 1.0)

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    renew = leases.renew
    monkeypatch.setattr(leases, "renew", down)
    running._renew_at = 0
    running._valid_until = 0
    # when it ticks, then it sends nothing, drops its connection, and tries again in a few seconds
    interval = running.tick()
    assert sent == []
    assert connections_closed == [True]
    assert 0 < interval <= beat.RETRY_SECONDS
    # when the database is back and the lease is still its own, then it carries on sending
    monkeypatch.setattr(leases, "renew", renew)
    running._renew_at = 0
    running.tick()
    assert sent == [1]


def test_a_clean_stop_gives_the_lease_back(scheduler):
    # given
    running = scheduler()
    # when beat stops (SIGTERM and Ctrl-C close the scheduler)
    running.close()
    # then the lease is free and the next beat starts at once
    assert leases.current(beat.LEASE_NAME).holder == ""
    following = scheduler()
    assert leases.current(beat.LEASE_NAME).holder == following.holder


def test_a_lease_that_ran_out_after_a_crash_is_taken_by_the_next_beat(scheduler):
    # given a beat that was killed: its lease is in the table but past its expiry
    ProcessLease.objects.create(
        name=beat.LEASE_NAME, holder="crashed:9:dead", expires_at=timezone.now() - timedelta(seconds=1)
    )
    # when a new beat starts
    started = scheduler()
    # then it takes the lease
    assert leases.current(beat.LEASE_NAME).holder == started.holder


def test_the_project_runs_beat_with_the_leased_scheduler():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULER == "config.beat:LeasedScheduler"
    assert app.conf.beat_scheduler == "config.beat:LeasedScheduler"
