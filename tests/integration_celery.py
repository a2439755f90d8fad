"""The Celery app the integration tests start a real worker with: the project's app, plus one
test-only switch installed in each pool process: while the file named by INTEGRATION_SLOW_FLAG
exists, the shadow-agent check announces itself (``<flag>.started``) and hangs, so a test can
kill the pool process in the middle of the task."""

import os
import time

from celery.signals import worker_process_init

from config.celery import app

__all__ = ["app"]


@worker_process_init.connect
def _install_slow_switch(**kwargs):
    from governance import checks
    from governance.choices import FindingKind

    original = checks.CHECKS[FindingKind.SHADOW_AGENT]

    def shadow_agents(now):
        flag = os.environ.get("INTEGRATION_SLOW_FLAG", "")
        if flag and os.path.exists(flag):
            with open(flag + ".started", "w") as marker:
                marker.write(str(os.getpid()))
            time.sleep(120)
        return original(now)

    checks.CHECKS[FindingKind.SHADOW_AGENT] = shadow_agents
