"""Prometheus metrics: request counts and latency from a middleware, domain figures read at scrape time.

The domain collector looks models up by name when Prometheus scrapes, so it
imports nothing from the upper layers and tolerates apps or tables that do not
exist (yet): a missing source is skipped, never an error. With several
gunicorn workers set PROMETHEUS_MULTIPROC_DIR (see docs/operations.md) so the
request metrics of every worker are added up.
"""

import hmac
import logging
import os
import time
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Max
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from config import db_router

logger = logging.getLogger(__name__)

REQUESTS = Counter("registry_http_requests_total", "HTTP requests answered", ["method", "status"])
LATENCY = Histogram(
    "registry_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
INGEST_WINDOW = timedelta(minutes=5)


class MetricsMiddleware:
    """Counts requests by method and status; times them by method and route (URL name, never the raw path)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in KNOWN_METHODS else "OTHER"
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or "unnamed") if match else "unmatched"
        REQUESTS.labels(method, str(response.status_code)).inc()
        LATENCY.labels(method, route).observe(time.perf_counter() - started)
        return response


def _model(name: str):
    """The installed model with this class name, whichever app owns it, or None."""
    for model in apps.get_models():
        if model.__name__ == name:
            return model
    return None


def _field_names(model) -> set[str]:
    return {field.name for field in model._meta.get_fields()}


class DomainCollector:
    """Figures read from the database when scraped: agents, audit length, ingest rate, checks, open findings."""

    def collect(self):
        for source in (self._agents, self._audit, self._ingest, self._partitions, self._checks, self._findings):
            try:
                yield from source()
            except DatabaseError:
                logger.warning("metrics source %s unavailable", source.__name__, exc_info=True)

    def _agents(self):
        agent = _model("Agent")
        family = GaugeMetricFamily("registry_agents", "Agents in the catalog by lifecycle state", labels=["lifecycle"])
        for row in agent.objects.values("lifecycle").annotate(n=Count("pk")).order_by():
            family.add_metric([row["lifecycle"]], row["n"])
        yield family

    def _audit(self):
        event = _model("AuditEvent")
        head = event.objects.aggregate(seq=Max("seq"))["seq"] or 0
        yield GaugeMetricFamily(
            "registry_audit_events", "Entries in the audit trail (head sequence number)", value=head
        )

    def _ingest(self):
        event = _model("TelemetryEvent")
        if event is None or "received_at" not in _field_names(event):
            return
        since = timezone.now() - INGEST_WINDOW
        count = event.objects.filter(received_at__gte=since).count()
        yield GaugeMetricFamily(
            "registry_telemetry_events_per_second",
            "Telemetry events received per second, averaged over the last five minutes",
            value=count / INGEST_WINDOW.total_seconds(),
        )

    def _partitions(self):
        """PostgreSQL's raw-event partitions: events outside every prepared day (held by the default
        partition; never refused, but normally none) and how many days ahead are prepared."""
        if not apps.is_installed("telemetry"):
            return
        from telemetry import partitions

        storage = partitions.storage()
        if storage is None:
            return  # SQLite: a plain table, nothing to count
        yield GaugeMetricFamily(
            "registry_telemetry_default_partition_events",
            "Raw telemetry events outside every prepared day partition (held by the default partition)",
            value=storage.default_rows,
        )
        ahead = (storage.last_day - timezone.now().date()).days if storage.last_day else -1
        yield GaugeMetricFamily(
            "registry_telemetry_partition_days_ahead",
            "Days after today (UTC) that already have a raw telemetry partition",
            value=ahead,
        )

    def _checks(self):
        run = _model("CheckRun")
        if run is None:
            return
        names = _field_names(run)
        if not {"started_at", "finished_at"} <= names:
            return
        label = next((n for n in ("check_kind", "check", "kind", "name", "task") if n in names), None)
        last = GaugeMetricFamily(
            "registry_check_last_duration_seconds",
            "Duration of the latest finished run of each check",
            labels=["check"],
        )
        seen = set()
        for row in run.objects.filter(finished_at__isnull=False).order_by("-started_at")[:500].values():
            key = str(row.get(label, "all")) if label else "all"
            if key in seen:
                continue
            seen.add(key)
            last.add_metric([key], (row["finished_at"] - row["started_at"]).total_seconds())
        yield last
        if label and "status" in names:
            runs = GaugeMetricFamily(
                "registry_check_runs", "Recorded check runs by check and status", labels=["check", "status"]
            )
            for row in run.objects.values(label, "status").annotate(n=Count("pk")).order_by():
                runs.add_metric([str(row[label]), str(row["status"])], row["n"])
            yield runs

    def _findings(self):
        finding = _model("Finding")
        if finding is None:
            return
        names = _field_names(finding)
        queryset = finding.objects.all()
        for closed in ("resolved_at", "closed_at"):
            if closed in names:
                queryset = queryset.filter(**{f"{closed}__isnull": True})
                break
        else:
            if "status" in names:
                queryset = queryset.filter(status="open")
        family = GaugeMetricFamily("registry_open_findings", "Open findings by kind", labels=["kind"])
        if "kind" in names:
            for row in queryset.values("kind").annotate(n=Count("pk")).order_by():
                family.add_metric([str(row["kind"])], row["n"])
        else:
            family.add_metric(["all"], queryset.count())
        yield family


class ReplicaCollector:
    """The read replica, when one is configured: reachable or not, its lag, and whether reads use it.

    The lag is this process's cached reading (measured again when older than
    DATABASE_REPLICA_LAG_CHECK_SECONDS), the same figure the router decides on.
    """

    def collect(self):
        alias = db_router.replica_alias()
        if not alias:
            return
        lag = db_router.replica_lag()
        up = lag is not None
        yield GaugeMetricFamily("registry_replica_up", "1 when the read replica answers, else 0", value=int(up))
        if up:
            yield GaugeMetricFamily(
                "registry_replica_lag_seconds",
                "Seconds the read replica is behind the primary (0 when it has replayed all it received)",
                value=lag,
            )
        in_use = up and lag <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        yield GaugeMetricFamily(
            "registry_replica_in_use",
            "1 when routed reads go to the replica, 0 when they fall back to the primary (down or lagging)",
            value=int(in_use),
        )


def _allowed(request) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip(), token)
    if token and not getattr(settings, "METRICS_ALLOW_LOCALHOST", True):
        return False
    # Without a token, only this machine may scrape (a reverse proxy must not forward /metrics).
    return request.META.get("REMOTE_ADDR") in ("127.0.0.1", "::1") and "HTTP_X_FORWARDED_FOR" not in request.META


def metrics_view(request):
    if not _allowed(request):
        return HttpResponseForbidden("Metrics need the METRICS_TOKEN bearer token or a request from this machine.\n")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    output = generate_latest(registry)
    domain = CollectorRegistry()
    domain.register(DomainCollector())
    domain.register(ReplicaCollector())
    output += generate_latest(domain)
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)
