"""Faults in the middle of a sweep: the worker killed, the broker restarted, the database restarted.

Each test copies a seeded database in a PostgreSQL cluster of its own, starts a real Celery worker
against a Redis of its own (``tests.faults.lab``), sends the sweep through the broker as beat does,
holds it inside the control-gap check (the sixth of ten, after five checks have committed their
findings) and breaks something. Once the system has recovered by itself, what it left must equal
what an undisturbed sweep leaves: every finding once, opened once, its owner e-mailed once, and each
webhook event delivered once, with nothing lost.

Marker ``integration``: skipped where the PostgreSQL server binaries or redis-server are missing,
unless CI=true (then they must be there).
"""

import os
import signal
import socket
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults import lab as faultlab
from tests.faults.scenario import SEEDED_AGENTS, SEEDED_SHADOWS

pytestmark = pytest.mark.integration

HELD_CHECK = "control_gap"
CHECK_KINDS = 10  # nine of governance and portfolio's maturity trap


@pytest.fixture(scope="module")
def lab():
    missing = faultlab.available()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the fault lab cannot run: {missing}")
        pytest.skip(missing)
    the_lab = faultlab.Lab()
    try:
        the_lab.start()
        yield the_lab
    finally:
        the_lab.stop()


@pytest.fixture
def fresh(lab):
    """Before each test: an empty broker and a receiver that has counted nothing."""
    with socket.create_connection(("127.0.0.1", lab.redis.port), timeout=2) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        assert sock.recv(16).startswith(b"+OK")
    lab.receiver.received.clear()
    workers = []

    def start(name):
        database = lab.database()
        worker = lab.worker(database, name)
        workers.append(worker)
        return database, worker

    yield start
    for worker in workers:
        worker.release()
        worker.stop()


def _settled(database: str, worker: faultlab.Worker, expected: dict) -> bool:
    try:
        state = faultlab.report(database)
    except faultlab.psycopg.OperationalError:
        return False
    return (
        state["open"] == expected["open"]
        and state["events"].get("notified", Counter()) == expected["events"]["notified"]
        and len(state["delivery_ids"]) == len(expected["delivery_ids"])
        and all(status == "delivered" for _subject, status in state["delivery_ids"].values())
        and worker.mails() == expected["mails"]
    )


@pytest.fixture(scope="module")
def undisturbed(lab):
    """What a sweep nobody disturbs leaves behind: the yardstick of every fault test."""
    database = lab.database()
    worker = lab.worker(database, "undisturbed")
    try:
        worker.send("governance.run_all_checks")
        assert faultlab.wait_for(
            lambda: faultlab.report(database)["runs"][("maturity_trap", "succeeded")] == 1, timeout=60
        ), worker.log_text()[-3000:]

        def quiet():
            state = faultlab.report(database)
            return state["delivery_ids"] and all(s == "delivered" for _x, s in state["delivery_ids"].values())

        assert faultlab.wait_for(quiet, timeout=60), worker.log_text()[-3000:]
        time.sleep(1)
        expected = faultlab.report(database)
        expected["mails"] = worker.mails()
        expected["received"] = Counter(lab.receiver.received)
    finally:
        worker.stop()
    # The scenario is not empty: the shadow agents and the unapproved production agents are there.
    kinds = Counter(kind for kind, _subject in expected["open"])
    assert kinds["shadow_agent"] == SEEDED_SHADOWS
    assert kinds["unapproved_in_production"] == SEEDED_AGENTS
    assert kinds[HELD_CHECK] == SEEDED_AGENTS
    assert sum(expected["mails"].values()) == len(expected["open"]) - SEEDED_SHADOWS
    assert len(expected["delivery_ids"]) == len(expected["open"])
    return expected


def _assert_same_as_undisturbed(database: str, worker: faultlab.Worker, receiver: faultlab.Receiver, expected):
    state = faultlab.report(database)
    # every finding exactly once, none lost
    assert state["findings"] == expected["findings"]
    assert set(state["findings"].values()) == {1}
    assert state["open"] == expected["open"]
    # history: opened once each, the owner told once each
    assert state["events"]["opened"] == expected["events"]["opened"]
    assert set(state["events"]["opened"].values()) == {1}
    assert state["events"]["notified"] == expected["events"]["notified"]
    # one e-mail per agent finding
    assert worker.mails() == expected["mails"]
    # one webhook delivery per finding, delivered, and the receiver got each exactly once
    assert state["deliveries"] == expected["deliveries"]
    assert {status for _subject, status in state["delivery_ids"].values()} == {"delivered"}
    assert set(receiver.received) == set(state["delivery_ids"])
    assert set(receiver.received.values()) == {1}


def _hold_sweep(worker: faultlab.Worker) -> int:
    """Send the sweep and wait until it is inside the held check; returns the pool process running it."""
    started = worker.hang_in(HELD_CHECK)
    worker.send("governance.run_all_checks")
    assert faultlab.wait_for(started.exists, timeout=60), worker.log_text()[-3000:]
    return int(started.read_text())


def _succeeded(database: str, kind: str) -> int:
    return faultlab.report(database)["runs"][(kind, "succeeded")]


def test_a_worker_killed_mid_sweep_leaves_no_lost_or_doubled_finding_or_notification(lab, fresh, undisturbed):
    # given a sweep held inside the control-gap check, five checks already committed
    database, worker = fresh("killed")
    pool_process = _hold_sweep(worker)
    assert pool_process in worker.pool_pids()
    assert _succeeded(database, "shadow_agent") == 1
    # when its pool process is killed
    started = Path(str(worker.hang_flag) + ".started")
    started.unlink()
    os.kill(pool_process, signal.SIGKILL)
    # then the sweep is redelivered to a new pool process (it reaches the held check again)
    assert faultlab.wait_for(started.exists, timeout=60), worker.log_text()[-3000:]
    assert int(started.read_text()) != pool_process
    worker.release()
    # and once it has run to the end, everything is there exactly once
    assert faultlab.wait_for(lambda: _settled(database, worker, undisturbed), timeout=90), worker.log_text()[-3000:]
    _assert_same_as_undisturbed(database, worker, lab.receiver, undisturbed)
    # the killed attempt is visible as the run that never finished
    runs = faultlab.report(database)["runs"]
    assert runs[(HELD_CHECK, "running")] == 1
    assert runs[(HELD_CHECK, "succeeded")] == 1
    assert runs[("shadow_agent", "succeeded")] == 2  # the redelivered sweep re-ran it, finding nothing new


def test_a_broker_restart_mid_sweep_leaves_no_lost_or_doubled_finding_or_notification(lab, fresh, undisturbed):
    # given a sweep held inside the control-gap check
    database, worker = fresh("broker")
    _hold_sweep(worker)
    # when the broker crashes (SIGKILL) and comes back while the check runs
    lab.redis.kill()
    time.sleep(1)
    lab.redis.start()
    worker.release()
    # then the worker reconnects by itself; the sweep, its notifications and deliveries complete
    assert faultlab.wait_for(lambda: _settled(database, worker, undisturbed), timeout=120), worker.log_text()[-3000:]
    _assert_same_as_undisturbed(database, worker, lab.receiver, undisturbed)
    # and a sweep sent after the restart runs (the worker consumes again) and changes nothing
    sweeps = _succeeded(database, "maturity_trap")
    worker.send("governance.run_all_checks")
    assert faultlab.wait_for(lambda: _succeeded(database, "maturity_trap") > sweeps, timeout=60), worker.log_text()[
        -3000:
    ]
    time.sleep(2)  # room for any notification or delivery the extra sweep might wrongly queue
    _assert_same_as_undisturbed(database, worker, lab.receiver, undisturbed)


def test_a_database_restart_mid_sweep_leaves_no_lost_or_doubled_finding_or_notification(lab, fresh, undisturbed):
    # given a sweep held inside the control-gap check, holding its advisory lock in an open transaction
    database, worker = fresh("database")
    _hold_sweep(worker)
    # when PostgreSQL restarts (fast shutdown cuts every connection) while the check runs
    lab.postgres.stop()
    time.sleep(2)
    lab.postgres.start()
    worker.release()
    # then the held check fails and is recorded, the rest of the sweep goes on, the task retries the
    # sweep, and the system ends as an undisturbed sweep leaves it
    assert faultlab.wait_for(lambda: _settled(database, worker, undisturbed), timeout=120), worker.log_text()[-3000:]
    _assert_same_as_undisturbed(database, worker, lab.receiver, undisturbed)
    runs = faultlab.report(database)["runs"]
    assert runs[(HELD_CHECK, "failed")] == 1
    assert runs[(HELD_CHECK, "succeeded")] == 1
    assert "Retry in" in worker.log_text()


def test_behind_a_declared_pooler_the_workers_sweep_through_the_labs_pgbouncer(lab, undisturbed):
    # given a run that declares PgBouncer (phase 3 of scripts/test.sh)
    if not faultlab.pooled():
        pytest.skip("DATABASE_POOLER is not pgbouncer: the lab's workers connect directly")
    from tests.pooler import admin_console, console_rows

    # when the undisturbed sweep has run, then the lab's PgBouncer carried its transactions
    console = {"HOST": "127.0.0.1", "PORT": lab.pgbouncer.port, "USER": "postgres", "PASSWORD": ""}
    with admin_console(console) as conn:
        stats = {row["database"]: row for row in console_rows(conn, "SHOW STATS")}
        pools = {row["database"]: row for row in console_rows(conn, "SHOW POOLS")}
    lab_databases = [name for name in stats if name.startswith("lab_") and name != "lab_template"]
    assert lab_databases, stats
    assert sum(stats[name]["total_xact_count"] for name in lab_databases) > 100
    assert {pools[name]["pool_mode"] for name in lab_databases} == {"transaction"}
