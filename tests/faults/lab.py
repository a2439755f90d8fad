"""A fault lab: a PostgreSQL cluster, a Redis broker and a Celery worker of the test's own, so a test
can kill, stop and restart them in the middle of a sweep without touching the shared services.

- ``PrivatePostgres``: ``initdb`` in a temporary directory, on a free port (run as the ``postgres``
  user when the tests run as root, since PostgreSQL refuses to run as root);
- ``PrivateRedis``: ``redis-server`` with an append-only file synced on every write, so a message
  survives a hard kill of the broker as it would in production;
- ``Worker``: ``celery worker`` (prefork, one pool process) with the project's settings pointed at
  both, and the test-only hang switch of ``tests.integration_celery``;
- ``Receiver``: a webhook endpoint in the test process that counts each delivery it receives;
- ``PrivatePgBouncer``: when the run declares ``DATABASE_POOLER=pgbouncer`` (phase 3 of
  scripts/test.sh), a PgBouncer in transaction mode in front of the lab's cluster
  (scripts/pgbouncer.sh), and the workers reach their database only through it, so the database
  restart also goes through the pooler.

The lab's database is read with plain SQL (psycopg): the test process's own Django connection stays
on the pytest database. The lab itself (creating, migrating and seeding the template it copies, reading
the results) talks to its cluster directly: only what is under test goes through the pooler.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
SECRET_KEY = "fault-lab-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def available() -> str | None:
    """Why the lab cannot run here, or None."""
    if PG_BIN is None or not (PG_BIN / "initdb").exists():
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    if pooled() and PrivatePgBouncer.binary() is None:
        return "DATABASE_POOLER=pgbouncer but pgbouncer is not installed"
    return None


def pooled() -> bool:
    """Whether this run goes through PgBouncer (the workers then do too)."""
    return os.environ.get("DATABASE_POOLER") == "pgbouncer"


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (fsync off: it is a lab, not a store)."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "pgdata"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)  # noqa: S603

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "postgres.log"), "-w", "start")

    def stop(self) -> None:
        """A fast shutdown, as a restart or failover does: every open connection is cut."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str, template: str | None = None) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass


class PrivatePgBouncer:
    """scripts/pgbouncer.sh on a free port in front of the lab's cluster, its files in the lab."""

    def __init__(self, root: Path, upstream_port: int):
        self.port = free_port()
        self.env = {
            **os.environ,
            "PGBOUNCER_PORT": str(self.port),
            "PGBOUNCER_UPSTREAM_PORT": str(upstream_port),
            "PGBOUNCER_DIR": str(root / "pgbouncer"),
            "PGBOUNCER_POOL_SIZE": "10",
        }

    @staticmethod
    def binary() -> str | None:
        return shutil.which("pgbouncer") or next((p for p in ["/usr/sbin/pgbouncer"] if Path(p).exists()), None)

    def _script(self, action: str) -> None:
        subprocess.run(  # noqa: S603
            ["bash", str(ROOT / "scripts" / "pgbouncer.sh"), action],  # noqa: S607
            env=self.env,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def url(self, database_url: str) -> str:
        """The same database, reached through the pooler."""
        name = database_url.rsplit("/", 1)[1]
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


class PrivateRedis:
    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=open(self.root / "redis.log", "a"),  # noqa: SIM115 (lives as long as the server)
            stderr=subprocess.STDOUT,
        )
        assert wait_for(self._answers, timeout=15), "the lab's redis-server did not start"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """A hard crash: no shutdown, no final save; what survives is what the append-only file holds."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


class Worker:
    """One ``celery worker`` process with one pool process, consuming every queue (as a small install does)."""

    def __init__(self, root: Path, *, database_url: str, broker_url: str, name: str):
        self.root = root
        self.log_path = root / f"worker-{name}.log"
        self.hang_flag = root / f"hang-{name}"
        self.var_dir = root / f"var-{name}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "DB_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": broker_url,
            "SECRET_KEY": SECRET_KEY,
            "EMAIL_BACKEND": "file",
            "VAR_DIR": str(self.var_dir),
            "DEBUG": "false",
            "LOG_LEVEL": "INFO",
            "INTEGRATION_SLOW_FLAG": str(self.hang_flag),
            "INTEGRATION_VISIBILITY_TIMEOUT": "20",
            "WEBHOOK_BACKOFF_BASE_SECONDS": "1",
            "WEBHOOK_BACKOFF_CAP_SECONDS": "2",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = open(self.log_path, "a")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.integration_celery",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "-Q",
                ",".join(settings.TASK_QUEUES),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        if not wait_for(lambda: "ready." in self.log_text() or self.process.poll() is not None, timeout=45):
            raise AssertionError("the lab worker did not start:\n" + self.log_text()[-3000:])
        if self.process.poll() is not None:
            raise AssertionError("the lab worker exited:\n" + self.log_text()[-3000:])

    def log_text(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def pool_pids(self) -> list[int]:
        out = subprocess.run(  # noqa: S603
            ["pgrep", "-P", str(self.process.pid)],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(p) for p in out.stdout.split()]

    def hang_in(self, kind: str) -> Path:
        """Make the next run of check ``kind`` announce itself and wait until ``release()``."""
        started = Path(str(self.hang_flag) + ".started")
        started.unlink(missing_ok=True)
        self.hang_flag.write_text(kind)
        return started

    def release(self) -> None:
        self.hang_flag.unlink(missing_ok=True)

    def send(self, task: str, *args) -> None:
        """Send a task the way beat does: by name, through the broker."""
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "tests.faults.scenario", "send", task, json.dumps(list(args))],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def run_scenario(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "tests.faults.scenario", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise AssertionError(f"scenario {args} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def mails(self) -> Counter:
        """Subject line -> how many e-mails went out with it (the file backend writes them to VAR_DIR/mail)."""
        subjects: Counter = Counter()
        for path in (self.var_dir / "mail").glob("*"):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("Subject: "):
                    subjects[line.removeprefix("Subject: ")] += 1
        return subjects

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for pid in self.pool_pids() if self.process else []:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if getattr(self, "log", None):
            self.log.close()


class Receiver:
    """A webhook receiver that answers 204 and counts every delivery id it is sent."""

    def __init__(self):
        self.received: Counter = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received[self.headers.get("X-Delivery-Id")] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Lab:
    """The three services for one test module; each test gets its own database copied from a seeded template."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="agentreg-faultlab-"))
        self.root.chmod(0o755)
        self.postgres = PrivatePostgres(self.root)
        self.redis = PrivateRedis(self.root)
        self.receiver = Receiver()
        self.pgbouncer = PrivatePgBouncer(self.root, self.postgres.port) if pooled() else None
        self.databases = 0

    def start(self) -> None:
        self.postgres.init()
        if self.pgbouncer:
            self.pgbouncer.start()
        self.redis.start()
        self.postgres.create_database("lab_template")
        seeder = Worker(self.root, database_url=self.postgres.url("lab_template"), broker_url="memory://", name="seed")
        seeder.run_scenario("migrate")
        seeder.run_scenario("seed", self.receiver.url)

    def database(self) -> str:
        """A fresh copy of the seeded database; returns its URL."""
        self.databases += 1
        name = f"lab_{self.databases}"
        self.postgres.create_database(name, template="lab_template")
        return self.postgres.url(name)

    def worker(self, database_url: str, name: str) -> Worker:
        """A worker on that database: through the lab's PgBouncer when the run declares one."""
        if self.pgbouncer:
            database_url = self.pgbouncer.url(database_url)
        worker = Worker(self.root, database_url=database_url, broker_url=self.redis.url, name=name)
        worker.start()
        return worker

    def stop(self) -> None:
        self.receiver.stop()
        self.redis.kill()
        if self.pgbouncer:
            try:
                self.pgbouncer.stop()
            except subprocess.CalledProcessError:
                pass
        self.postgres.destroy()
        if not os.environ.get("FAULTLAB_KEEP"):  # set it to read the services' and workers' logs afterwards
            shutil.rmtree(self.root, ignore_errors=True)


def report(database_url: str) -> dict:
    """What the sweep and the notifications left in the lab database, keyed by subject, not by id."""
    with psycopg.connect(database_url, connect_timeout=3) as conn:
        # One snapshot for every table: the report is polled while a sweep may still be writing, and a
        # delivery committed between two reads would name a finding the first read never saw.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        findings = conn.execute(
            """SELECT f.id, f.kind, coalesce(a.key, f.identity), f.resolved_at IS NULL
               FROM governance_finding f LEFT JOIN registry_agent a ON a.id = f.agent_id"""
        ).fetchall()
        events = conn.execute("SELECT finding_id, kind, count(*) FROM governance_findingevent GROUP BY 1, 2").fetchall()
        deliveries = conn.execute(
            "SELECT id, finding_id, event, status, attempts FROM governance_webhookdelivery"
        ).fetchall()
        runs = conn.execute("SELECT check_kind, status FROM governance_checkrun").fetchall()
    subject_of = {pk: (kind, subject) for pk, kind, subject, _open in findings}
    per_event: dict = {}
    for finding_id, kind, count in events:
        per_event.setdefault(kind, Counter())[subject_of[finding_id]] += count
    return {
        "findings": Counter(subject_of.values()),
        "open": {subject_of[pk] for pk, *_rest, is_open in findings if is_open},
        "events": per_event,
        "deliveries": Counter((subject_of[f], event) for _pk, f, event, _s, _a in deliveries),
        "delivery_ids": {str(pk): (subject_of[f], status) for pk, f, _e, status, _a in deliveries},
        "runs": Counter(runs),
    }
