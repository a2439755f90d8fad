"""Telemetry routes on the shared /api/v1/ router, plus the JSON batch ingest endpoint."""

from django.urls import path

from telemetry import endpoints
from telemetry.api import views

extra_urlpatterns = [
    path("telemetry/events", endpoints.batch_events, name="telemetry-events"),
]


def register(router) -> None:
    router.register("telemetry/sources", views.TelemetrySourceViewSet, basename="telemetrysource")
    router.register("telemetry/sightings", views.SightingViewSet, basename="sighting")
    router.register("telemetry/usage", views.DailyUsageViewSet, basename="dailyusage")
    router.register("telemetry/tool-usage", views.DailyToolUsageViewSet, basename="dailytoolusage")
    router.register("telemetry/evaluations", views.DailyEvaluationViewSet, basename="dailyevaluation")
    router.register("telemetry/aliases", views.IdentityAliasViewSet, basename="identityalias")
