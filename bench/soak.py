"""Soak: minutes of mixed load on the real processes, with the checks every minute (figures, not a test).

    bash scripts/bench.sh soak
    # or: DATABASE_URL=postgres://postgres@127.0.0.1:5432/agentreg_bench_soak .venv/bin/python bench/soak.py

Loads the demo portfolio once (kept for re-runs), then starts gunicorn, a Celery worker and beat on
PostgreSQL and Redis with the checks scheduled every SOAK_CHECKS_EVERY seconds, and measures:

1. idle: each page kind requested one at a time, and a sweep through the worker with nothing else running;
2. load: SOAK_CLIENTS clients for SOAK_SECONDS, each signed in as a demo person, browsing the catalog
   and agent pages, searching, reading the portfolio and the findings, editing their own agents through
   the HTML form, and a collector ingesting telemetry batches through the API;
3. afterwards: server errors (5xx, and tracebacks in the logs), deadlocks (PostgreSQL's own counter
   and the logs), page p50/p95 under load next to idle, and the sweeps' durations next to idle.

Settings (environment): SOAK_SECONDS (300), SOAK_CLIENTS (50), SOAK_CHECKS_EVERY (60),
SOAK_WEB_WORKERS (2), SOAK_WEB_THREADS (4), SOAK_BROKER (redis://127.0.0.1:6379/13).

Against processes started elsewhere (scripts/cluster-soak.sh: several web nodes, workers per queue):
SOAK_BASE_URLS names the web nodes (comma separated; the requests go round robin over them, as a load
balancer without sticky sessions would send them) and SOAK_LOG_DIR the directory their logs are in
(web*.log, worker*.log, beat*.log); the soak then starts nothing itself.
"""

import http.cookiejar
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECONDS = int(os.environ.get("SOAK_SECONDS", 300))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", 50))
CHECKS_EVERY = int(os.environ.get("SOAK_CHECKS_EVERY", 60))
WEB_WORKERS = int(os.environ.get("SOAK_WEB_WORKERS", 2))
WEB_THREADS = int(os.environ.get("SOAK_WEB_THREADS", 4))
BROKER = os.environ.get("SOAK_BROKER", "redis://127.0.0.1:6379/13")

ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SECRET_KEY": "soak-secret-key-not-for-production-0123456789abcdefghijklmnop",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
    "CELERY_BROKER_URL": BROKER,
    "EMAIL_BACKEND": "locmem",
    "LOG_LEVEL": "INFO",
    "CHECKS_INTERVAL_SECONDS": str(CHECKS_EVERY),
    "DB_CONN_MAX_AGE": "60",
}
for name, value in ENVIRONMENT.items():
    os.environ.setdefault(name, value)
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("Set DATABASE_URL to a PostgreSQL database the soak may fill (e.g. agentreg_bench_soak).")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


BASE_URLS = [url.strip().rstrip("/") for url in os.environ.get("SOAK_BASE_URLS", "").split(",") if url.strip()]
EXTERNAL = bool(BASE_URLS)
if EXTERNAL and not os.environ.get("SOAK_LOG_DIR"):
    sys.exit("SOAK_BASE_URLS is set: set SOAK_LOG_DIR to the directory the processes log to.")
PORT = free_port()
BASE = BASE_URLS[0] if EXTERNAL else f"http://127.0.0.1:{PORT}"
BASES = BASE_URLS or [BASE]
_next_base = itertools.cycle(BASES)  # next() on a cycle is atomic under the GIL


def next_base() -> str:
    return next(_next_base)


# --- Data -----------------------------------------------------------------------------------------


def prepare() -> dict:
    """The demo portfolio (loaded once), the people who will sign in, and a collector token."""
    from registry.demo import demo_logins
    from registry.demo_data import PERSON_PASSWORD
    from registry.models import Agent, User
    from telemetry import services as telemetry_services

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the manifest storage needs it
    if not Agent.objects.exists():
        print("loading the demo portfolio (once)...", flush=True)
        call_command("load_demo", verbosity=0)
    passwords = {username: password for _role, username, password in demo_logins()}
    people = list(User.objects.filter(kind="person", is_active=True).order_by("username"))
    owned = Counter(Agent.objects.exclude(lifecycle="retired").values_list("owner__username", flat=True))
    admin = User.objects.filter(groups__name="platform_admin").first()
    source, token = telemetry_services.create_source(
        actor=admin, name=f"Soak collector {uuid.uuid4().hex[:6]}", kind="gateway"
    )
    running = Agent.objects.exclude(lifecycle="retired")
    keys = list(running.values_list("key", flat=True))
    return {
        "people": [(p.username, passwords.get(p.username, PERSON_PASSWORD), owned[p.username] > 0) for p in people],
        "agents": keys,
        "agents_of": {
            username: list(running.filter(owner__username=username).values_list("key", flat=True))
            for username, count in owned.items()
            if count
        },
        "token": token,
        "source": source.pk,
    }


# --- Processes ------------------------------------------------------------------------------------


def start_processes(logs: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [
            str(bin_dir / "gunicorn"),
            "-c",
            "config/gunicorn.conf.py",
            "config.wsgi",
            "--workers",
            str(WEB_WORKERS),
            "--threads",
            str(WEB_THREADS),
            "--worker-class",
            "gthread",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--no-control-socket",
        ],
        "worker": [
            str(bin_dir / "celery"),
            "-A",
            "config",
            "worker",
            "-Q",
            ",".join(settings.TASK_QUEUES),
            "--concurrency",
            "1",
            "-l",
            "INFO",
        ],
        "beat": [
            str(bin_dir / "celery"),
            "-A",
            "config",
            "beat",
            "--schedule",
            str(logs / "celerybeat-schedule"),
            "-l",
            "INFO",
        ],
    }
    processes = []
    for name, command in commands.items():
        log = open(logs / f"{name}.log", "w")  # noqa: SIM115 (kept open while the process runs)
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(BASE + "/healthz", timeout=2)  # noqa: S310
            break
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    else:
        stop_processes(processes)
        sys.exit("the web server did not start; see " + str(logs / "web.log"))
    return processes


def stop_processes(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


# --- A client -------------------------------------------------------------------------------------


class Forms(HTMLParser):
    """The fields of every form on a page, as a browser would submit them."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self.form = None
        self.select = None
        self.textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.form = {"action": a.get("action") or "", "fields": []}
            self.forms.append(self.form)
        elif self.form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.form["fields"].append((a["name"], a.get("value") or ("on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select":
            self.select = {"name": a.get("name"), "multiple": "multiple" in a, "chosen": [], "first": None}
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            if self.select["first"] is None:
                self.select["first"] = value
            if "selected" in a:
                self.select["chosen"].append(value)
        elif tag == "textarea":
            self.textarea = [a.get("name"), ""]

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "select" and self.select is not None and self.form is not None:
            s = self.select
            values = s["chosen"] or ([] if s["multiple"] or s["first"] is None else [s["first"]])
            self.form["fields"].extend((s["name"], v) for v in values)
            self.select = None
        elif tag == "textarea" and self.textarea is not None and self.form is not None:
            name, text = self.textarea
            self.form["fields"].append((name, text.removeprefix("\n")))
            self.textarea = None
        elif tag == "form":
            self.form = None


CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Client:
    def __init__(self, stats, data):
        self.stats = stats
        self.data = data
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
        )

    def request(self, kind: str, path: str, body: bytes | None = None, headers: dict | None = None):
        started = time.perf_counter()
        base = next_base()
        request = urllib.request.Request(base + path, data=body, headers=headers or {})  # noqa: S310
        try:
            with self.opener.open(request, timeout=60) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as exc:
            status, text = 0, str(exc)
        self.stats.record(kind, status, time.perf_counter() - started, path, base)
        return status, text

    def sign_in(self, username: str, password: str) -> bool:
        _status, page = self.request("sign-in page", "/accounts/login/")
        token = CSRF.search(page)
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1) if token else ""}
        ).encode()
        status, _ = self.request(
            "sign in", "/accounts/login/", body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        return status == 302

    def edit(self, key: str, n: int) -> None:
        status, page = self.request("edit form", f"/agents/{key}/edit/")
        if status != 200:
            return
        parser = Forms()
        parser.feed(page)
        form = next((f for f in parser.forms if any(name == "row_version" for name, _v in f["fields"])), None)
        if form is None:
            return
        fields = [
            (name, re.sub(r"( \(reviewed in soak run \d+\))?$", f" (reviewed in soak run {n})", value, count=1))
            if name == "description"
            else (name, value)
            for name, value in form["fields"]
        ]
        self.request(
            "edit save",
            f"/agents/{key}/edit/",
            urllib.parse.urlencode(fields).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )

    def ingest(self) -> None:
        now = datetime.now(UTC).isoformat()
        events = [
            {
                "agent": random.choice(self.data["agents"]),  # noqa: S311
                "environment": "production",
                "kind": "invocation",
                "timestamp": now,
                "count": 1,
                "latency_ms": random.randint(50, 900),  # noqa: S311
                "event_id": uuid.uuid4().hex,
            }
            for _ in range(100)
        ]
        events += [
            {"agent": f"soak.unknown-{random.randint(1, 5)}", "environment": "production", "timestamp": now}  # noqa: S311
        ]
        self.request(
            "ingest 101 events",
            "/api/v1/telemetry/events",
            json.dumps({"events": events}).encode(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {self.data['token']}"},
        )


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


SEARCHES = ["invoice", "claims", "support", "hr", "supplier", "quality", "contract", "onboarding", "sales", "risk"]


def browse_once(client: Client, own: list[str], n: int) -> None:
    agents = client.data["agents"]
    roll = random.random()  # noqa: S311
    if roll < 0.25:
        client.request("catalog", f"/agents/?page={random.randint(1, 5)}")  # noqa: S311
    elif roll < 0.45:
        client.request("agent page", f"/agents/{random.choice(agents)}/")  # noqa: S311
    elif roll < 0.60:
        client.request("search", "/agents/?" + urllib.parse.urlencode({"q": random.choice(SEARCHES)}))  # noqa: S311
    elif roll < 0.70:
        client.request("portfolio", "/portfolio/")
    elif roll < 0.80:
        client.request("findings", "/governance/findings/")
    elif roll < 0.90 and own:
        client.edit(random.choice(own), n)  # noqa: S311
    else:
        client.request("home", "/")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.server_errors: list[str] = []
        self.per_base: Counter = Counter()

    def record(self, kind, status, seconds, path, base=""):
        with self.lock:
            self.per_base[base] += 1
            self.latencies[kind].append(seconds)
            self.statuses[kind][status] += 1
            if status >= 500 or status == 0:
                self.server_errors.append(f"{status} {kind} {path}")


def percentile(values, q):
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# --- Measurements ---------------------------------------------------------------------------------

PAGE_KINDS = ["home", "catalog", "agent page", "search", "portfolio", "findings", "edit form"]


def idle_pages(data) -> Stats:
    """Each page kind on its own, one request at a time, as the 'idle' yardstick."""
    stats = Stats()
    client = Client(stats, data)
    username, password, _owns = next(p for p in data["people"] if p[2])
    assert client.sign_in(username, password), "the idle client could not sign in"
    own = data["agents_of"][username]
    for _ in range(20):
        client.request("home", "/")
        client.request("catalog", f"/agents/?page={random.randint(1, 5)}")  # noqa: S311
        client.request("agent page", f"/agents/{random.choice(data['agents'])}/")  # noqa: S311
        client.request("search", "/agents/?" + urllib.parse.urlencode({"q": random.choice(SEARCHES)}))  # noqa: S311
        client.request("portfolio", "/portfolio/")
        client.request("findings", "/governance/findings/")
        client.request("edit form", f"/agents/{random.choice(own)}/edit/")  # noqa: S311
    return stats


SWEEP_DONE = re.compile(r"Task governance\.run_all_checks\[[^\]]+\] (succeeded|retry|raised).*? in ([0-9.]+)s")


def sweeps_in(logs: Path) -> list[tuple[str, float]]:
    """The sweeps every worker logged (worker*.log: one worker per queue set in a cluster)."""
    found = []
    text = "\n".join(log.read_text(errors="replace") for log in sorted(logs.glob("worker*.log")))
    for line in text.splitlines():
        match = SWEEP_DONE.search(line)
        if match:
            found.append((match.group(1), float(match.group(2))))
    return found


def idle_sweep(logs: Path) -> float:
    from config.celery import app

    before = len(sweeps_in(logs))
    app.send_task("governance.run_all_checks")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(sweeps_in(logs)) <= before:
        time.sleep(0.5)
    return sweeps_in(logs)[-1][1]


def deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def load(data, stats: Stats, run: int) -> None:
    stop_at = time.monotonic() + SECONDS
    people = data["people"]

    def one_client(i: int) -> None:
        client = Client(stats, data)
        if i % 10 == 9:  # one in ten is a collector sending telemetry
            while time.monotonic() < stop_at:
                client.ingest()
                time.sleep(random.uniform(0.5, 1.5))  # noqa: S311
            return
        username, password, owns = people[(i * 7) % len(people)]
        if not client.sign_in(username, password):
            stats.record("sign-in refused", 0, 0.0, username)
            return
        own = data["agents_of"].get(username, []) if owns else []
        while time.monotonic() < stop_at:
            browse_once(client, own, run)
            time.sleep(random.uniform(0.5, 2.0))  # noqa: S311

    threads = [threading.Thread(target=one_client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # a ramp, not a thundering herd of sign-ins
    for thread in threads:
        thread.join(timeout=SECONDS + 120)


def log_problems(logs: Path) -> Counter:
    problems: Counter = Counter()
    for log in sorted(logs.glob("*.log")):
        name, text = log.stem, log.read_text(errors="replace")
        problems[f"{name}: deadlock detected"] = text.count("deadlock detected")
        problems[f"{name}: tracebacks"] = text.count("Traceback (most recent call last)")
        problems[f"{name}: ERROR lines"] = sum(1 for line in text.splitlines() if '"level": "ERROR"' in line)
    return problems


def main() -> None:
    random.seed(7)
    data = prepare()
    run = int(time.time())
    logs = Path(os.environ["SOAK_LOG_DIR"]) if EXTERNAL else Path(tempfile.mkdtemp(prefix="agentreg-soak-"))
    web = f"web nodes {', '.join(BASES)}" if EXTERNAL else f"web {WEB_WORKERS}x{WEB_THREADS}"
    print(f"soak: {CLIENTS} clients for {SECONDS}s, checks every {CHECKS_EVERY}s, {web}")
    print(f"      {len(data['agents'])} agents, {len(data['people'])} people; logs in {logs}", flush=True)
    processes = [] if EXTERNAL else start_processes(logs)
    try:
        idle = idle_pages(data)
        sweep_idle = idle_sweep(logs)
        sweeps_before = len(sweeps_in(logs))
        deadlocks_before = deadlocks()
        stats = Stats()
        started = time.monotonic()
        load(data, stats, run)
        elapsed = time.monotonic() - started
        time.sleep(5)  # let a sweep that started near the end finish
    finally:
        stop_processes(processes)
    sweeps = sweeps_in(logs)[sweeps_before:]
    from governance.models import CheckRun

    failed_runs = CheckRun.objects.filter(status="failed", started_at__gte=datetime.fromtimestamp(run, UTC)).count()
    requests = sum(len(v) for v in stats.latencies.values())

    print(f"\n{requests:,} requests in {elapsed:.0f}s ({requests / elapsed:.1f}/s)")
    if EXTERNAL:
        print("per web node: " + ", ".join(f"{base} {stats.per_base[base]:,}" for base in BASES))
    print(f"{'request':<20} {'count':>7} {'idle p50':>9} {'idle p95':>9} {'load p50':>9} {'load p95':>9}  statuses")
    for kind in sorted(stats.latencies, key=lambda k: (k not in PAGE_KINDS, k)):
        under = sorted(stats.latencies[kind])
        calm = sorted(idle.latencies.get(kind, []))
        print(
            f"{kind:<20} {len(under):>7} {percentile(calm, 50) * 1000:>8.0f}ms {percentile(calm, 95) * 1000:>8.0f}ms"
            f" {percentile(under, 50) * 1000:>8.0f}ms {percentile(under, 95) * 1000:>8.0f}ms"
            f"  {dict(sorted(stats.statuses[kind].items()))}"
        )
    pages = sorted(x for k in PAGE_KINDS for x in stats.latencies.get(k, []))
    calm_pages = sorted(x for k in PAGE_KINDS for x in idle.latencies.get(k, []))
    print(
        f"{'all pages':<20} {len(pages):>7} {percentile(calm_pages, 50) * 1000:>8.0f}ms"
        f" {percentile(calm_pages, 95) * 1000:>8.0f}ms {percentile(pages, 50) * 1000:>8.0f}ms"
        f" {percentile(pages, 95) * 1000:>8.0f}ms"
    )
    durations = [seconds for outcome, seconds in sweeps if outcome == "succeeded"]
    print(
        f"\nsweeps during the load: {len(sweeps)} ({Counter(o for o, _ in sweeps)}), "
        f"duration p50 {statistics.median(durations) if durations else float('nan'):.2f}s, "
        f"max {max(durations) if durations else float('nan'):.2f}s; idle sweep {sweep_idle:.2f}s; "
        f"failed check runs {failed_runs}"
    )
    print(f"server errors (5xx or no answer): {len(stats.server_errors)}")
    for line in stats.server_errors[:10]:
        print("   ", line)
    print(f"PostgreSQL deadlocks during the run: {deadlocks() - deadlocks_before}")
    for problem, count in log_problems(logs).items():
        print(f"{problem}: {count}")


if __name__ == "__main__":
    main()
