"""``/healthz``: can this process reach its database and its broker? JSON, 200 when both answer, else 503."""

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

BROKER_TIMEOUT_SECONDS = 3


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 (any failure means "down"; the message says which)
        return {"ok": False, "error": str(exc).strip()[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_broker() -> dict:
    url = getattr(settings, "CELERY_BROKER_URL", "")
    if not url:
        return {"ok": False, "error": "CELERY_BROKER_URL is not set"}
    started = time.perf_counter()
    try:
        from kombu import Connection

        with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc).strip()[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def healthz(request):
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )
