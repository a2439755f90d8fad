"""The Celery app the integration tests start a real worker with: the project's app, plus test-only
switches read from the environment in each pool process:

- while the file named by INTEGRATION_SLOW_FLAG exists, the check it names (the shadow-agent check
  when it names none) announces itself in ``<flag>.started`` (with the pool process id) and waits
  until the file is removed, so a test can kill the worker, the broker or the database in the middle
  of a sweep;
- INTEGRATION_VISIBILITY_TIMEOUT shortens how long the Redis broker waits before it redelivers a
  message that was never acknowledged (an hour by default), so a test sees the redelivery.
"""

import os
import time
from pathlib import Path

from celery.signals import worker_process_init

from config.celery import app

__all__ = ["app"]

if os.environ.get("INTEGRATION_VISIBILITY_TIMEOUT"):
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "visibility_timeout": int(os.environ["INTEGRATION_VISIBILITY_TIMEOUT"]),
    }

HANG_LIMIT_SECONDS = 120


@worker_process_init.connect
def _install_hang_switch(**kwargs):
    from governance import checks
    from governance.choices import FindingKind

    flag = Path(os.environ.get("INTEGRATION_SLOW_FLAG") or "/nonexistent")

    def hanging(kind, check):
        def run(now):
            if flag.exists() and (flag.read_text().strip() or FindingKind.SHADOW_AGENT) == kind:
                Path(str(flag) + ".started").write_text(str(os.getpid()))
                deadline = time.monotonic() + HANG_LIMIT_SECONDS
                while flag.exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
            return check(now)

        return run

    for kind, check in list(checks.CHECKS.items()):
        checks.CHECKS[kind] = hanging(kind, check)
