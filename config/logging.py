"""JSON log lines, one object per line, stamped with the request (or task) id they belong to."""

import json
import logging
from datetime import UTC, datetime


def current_request_id() -> str:
    try:
        from registry.audit import correlation_id_var
    except Exception:  # noqa: BLE001 (logging during start-up, before the apps are loaded)
        return ""
    return correlation_id_var.get()


def _request_id(record: logging.LogRecord) -> str:
    # django.request logs after the middleware chain has returned, but passes the request along.
    request = getattr(record, "request", None)
    return getattr(request, "request_id", "") or getattr(record, "request_id", "") or current_request_id()


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", ...}``; exceptions go in ``exc_info`` as text."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
            "process": record.process,
        }
        for extra in ("status_code", "task_id", "task_name"):
            if hasattr(record, extra):
                entry[extra] = getattr(record, extra)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
