"""The process lease: one holder at a time, taken over only after it runs out, renewed and given back."""

from datetime import UTC, datetime, timedelta

import pytest

from registry import leases
from registry.models import ProcessLease

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
TTL = 60


def test_the_first_holder_takes_a_lease_nobody_held(time_machine):
    # given
    time_machine.move_to(T0, tick=False)
    # when
    taken = leases.acquire("celery-beat", "host-a:10:aaaa", TTL)
    # then
    assert taken is True
    lease = ProcessLease.objects.get(name="celery-beat")
    assert (lease.holder, lease.acquired_at, lease.expires_at) == ("host-a:10:aaaa", T0, T0 + timedelta(seconds=TTL))


def test_a_second_holder_is_refused_while_the_lease_runs(time_machine):
    # given
    time_machine.move_to(T0, tick=False)
    leases.acquire("celery-beat", "host-a:10:aaaa", TTL)
    # when another process asks a second before the expiry
    time_machine.move_to(T0 + timedelta(seconds=TTL - 1), tick=False)
    taken = leases.acquire("celery-beat", "host-b:20:bbbb", TTL)
    # then it is refused and the lease is untouched
    assert taken is False
    assert leases.current("celery-beat").holder == "host-a:10:aaaa"
    assert leases.current("celery-beat").expires_at == T0 + timedelta(seconds=TTL)


def test_another_holder_takes_over_once_the_lease_ran_out(time_machine):
    # given a holder that stopped renewing (killed)
    time_machine.move_to(T0, tick=False)
    leases.acquire("celery-beat", "host-a:10:aaaa", TTL)
    # when another process asks at the expiry
    time_machine.move_to(T0 + timedelta(seconds=TTL), tick=False)
    taken = leases.acquire("celery-beat", "host-b:20:bbbb", TTL)
    # then it holds the lease, and the old holder can no longer renew it
    assert taken is True
    assert leases.current("celery-beat").holder == "host-b:20:bbbb"
    assert leases.renew("celery-beat", "host-a:10:aaaa", TTL) is False
    assert leases.current("celery-beat").holder == "host-b:20:bbbb"


def test_renewing_pushes_the_expiry_so_nobody_takes_over(time_machine):
    # given
    time_machine.move_to(T0, tick=False)
    leases.acquire("celery-beat", "host-a:10:aaaa", TTL)
    # when the holder renews every 15 s for two minutes
    for step in range(1, 9):
        time_machine.move_to(T0 + timedelta(seconds=15 * step), tick=False)
        assert leases.renew("celery-beat", "host-a:10:aaaa", TTL) is True
    # then a minute after the first expiry the lease still runs and another process is refused
    assert leases.current("celery-beat").expires_at == T0 + timedelta(seconds=120 + TTL)
    time_machine.move_to(T0 + timedelta(seconds=121), tick=False)
    assert leases.acquire("celery-beat", "host-b:20:bbbb", TTL) is False


def test_a_lease_that_ran_out_unclaimed_is_still_renewed_by_its_holder(time_machine):
    # given a holder paused past its expiry while nobody else asked
    time_machine.move_to(T0, tick=False)
    leases.acquire("celery-beat", "host-a:10:aaaa", TTL)
    time_machine.move_to(T0 + timedelta(seconds=TTL + 30), tick=False)
    # when it renews, then it still holds it: nobody ran in between
    assert leases.renew("celery-beat", "host-a:10:aaaa", TTL) is True
    assert leases.acquire("celery-beat", "host-b:20:bbbb", TTL) is False


def test_releasing_lets_the_next_holder_start_at_once(time_machine):
    # given
    time_machine.move_to(T0, tick=False)
    leases.acquire("celery-beat", "host-a:10:aaaa", TTL)
    # when the holder stops cleanly
    time_machine.move_to(T0 + timedelta(seconds=5), tick=False)
    released = leases.release("celery-beat", "host-a:10:aaaa")
    # then the next one takes it well before the old expiry
    assert released is True
    assert leases.current("celery-beat").holder == ""
    assert leases.acquire("celery-beat", "host-b:20:bbbb", TTL) is True


def test_only_the_holder_can_release(time_machine):
    time_machine.move_to(T0, tick=False)
    leases.acquire("celery-beat", "host-a:10:aaaa", TTL)
    assert leases.release("celery-beat", "host-b:20:bbbb") is False
    assert leases.current("celery-beat").holder == "host-a:10:aaaa"


def test_asking_again_as_the_holder_extends_the_lease(time_machine):
    time_machine.move_to(T0, tick=False)
    leases.acquire("celery-beat", "host-a:10:aaaa", TTL)
    time_machine.move_to(T0 + timedelta(seconds=10), tick=False)
    assert leases.acquire("celery-beat", "host-a:10:aaaa", TTL) is True
    assert leases.current("celery-beat").expires_at == T0 + timedelta(seconds=10 + TTL)


def test_leases_of_different_names_are_independent(time_machine):
    time_machine.move_to(T0, tick=False)
    assert leases.acquire("celery-beat", "host-a:10:aaaa", TTL) is True
    assert leases.acquire("other-singleton", "host-b:20:bbbb", TTL) is True
    assert ProcessLease.objects.count() == 2


def test_holder_ids_differ_between_two_processes_of_the_same_host():
    first, second = leases.holder_id(), leases.holder_id()
    assert first != second
    assert first.rsplit(":", 1)[0] == second.rsplit(":", 1)[0]  # same host and pid, another random part
