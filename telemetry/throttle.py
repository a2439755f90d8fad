"""Per-source ingest throttling: each telemetry source may send at most TELEMETRY_INGEST_RATE_PER_MINUTE
requests a minute; more are answered 429 with Retry-After, so one runaway collector cannot crowd out
the others or fill the database. Counts live in the shared cache (CACHE_URL), one fixed window per
source and minute.
"""

import time

from django.conf import settings
from django.core.cache import cache

KEY_PREFIX = "ingest-rate"
WINDOW_SECONDS = 60


def allow(source_id: int, now: float | None = None) -> tuple[bool, int]:
    """Count one request for the source; returns (allowed, seconds until the window ends)."""
    limit = settings.TELEMETRY_INGEST_RATE_PER_MINUTE
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    retry_after = WINDOW_SECONDS - int(now % WINDOW_SECONDS)
    if limit <= 0:
        return True, retry_after
    key = f"{KEY_PREFIX}:{source_id}:{window}"
    if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1
    return count <= limit, retry_after
