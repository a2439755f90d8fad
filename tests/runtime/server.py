"""A real gunicorn serving the project on a random loopback port, against the test database.

Used by the multi-worker stop test and by ``bench/runtime_bench.py``. The access log records the
worker's pid for every request, so a test can tell which worker answered what.
"""

import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACCESS_FORMAT = "%(p)s %(U)s %(s)s"


def free_port() -> int:
    for _ in range(50):
        port = random.randint(20000, 60000)  # noqa: S311 (a port, not a secret)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


class Gunicorn:
    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 2,
        log_dir: Path,
        extra_env: dict | None = None,
        settings: str = "config.test_settings",
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = log_dir / "access.log"
        self.error_log = log_dir / "error.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": settings,
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "DEBUG": "false",
            **(extra_env or {}),
        }
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                str(ROOT / "config" / "gunicorn.conf.py"),
                "--access-logfile",
                str(self.access_log),
                "--access-logformat",
                ACCESS_FORMAT,
                "--error-logfile",
                str(self.error_log),
                "config.wsgi",
            ],
            cwd=ROOT,
            env=env,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.error_log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def worker_pids(self) -> set[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)  # noqa: S603,S607
        return {int(p) for p in out.stdout.split()}

    def log_lines(self) -> list[tuple[int, str, int]]:
        if not self.access_log.exists():
            return []
        rows = []
        for line in self.access_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                rows.append((int(parts[0].strip("<>")), parts[1], int(parts[2])))
        return rows

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
