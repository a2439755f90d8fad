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
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200


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
