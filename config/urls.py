"""Top-level URLs: each app brings its pages and its API routes."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health, metrics
from registry import auth_views as auth_views_local
from telemetry import endpoints as telemetry_endpoints

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("accounts/login/", auth_views_local.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("config.api_urls")),
    # OpenTelemetry OTLP/HTTP: exporters post to <endpoint>/v1/traces.
    path("v1/traces", telemetry_endpoints.otlp_traces, name="otlp-traces"),
    path("telemetry/", include("telemetry.urls")),
    # SCIM 2.0 provisioning from the company directory (its own bearer tokens).
    path("scim/v2/", include("registry.scim")),
    path("governance/", include("governance.urls")),
    path("portfolio/", include("portfolio.urls")),
    # AuthZEN decision API and its metadata, at the root where enforcement points look.
    path("", include("runtime.urls")),
    path("", include("registry.urls")),
]

# Never a stack trace; a 503 with a clear message while the database is away.
handler500 = "registry.middleware.server_error"
handler404 = "registry.middleware.page_not_found"
