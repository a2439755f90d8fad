"""gunicorn settings for production: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

Everything can still be overridden on the command line or with GUNICORN_CMD_ARGS.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Our JSON logs carry the request id; gunicorn's access log adds nothing the metrics do not.
accesslog = None
errorlog = "-"
# Recycle workers now and then so a slow leak cannot grow without bound, but rarely: a new worker
# imports the project and builds its decision snapshot before it accepts (post_worker_init), and while
# it does the other workers carry its share. At 2,000 requests a worker recycled every 8 s at 500
# requests/s over two workers, which put a second-long stall into every 8 s of a gateway's traffic
# (bench/runtime_results.md); at 50,000 it is every few minutes at that rate.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10


def post_worker_init(worker):
    # The decision API answers from a snapshot each worker keeps; building it here, before the worker
    # accepts, means a worker started or recycled (max_requests) under load never makes gateways wait
    # for the build (about a second and a half at 50,000 agents).
    from runtime.snapshot import warm

    warm()


def child_exit(server, worker):
    # With PROMETHEUS_MULTIPROC_DIR set every worker writes its metrics to files
    # there; a dead worker's live gauges must be dropped from the totals.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
