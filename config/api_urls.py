"""One router for the whole REST API under /api/v1/; each app registers its viewsets."""

from rest_framework.routers import DefaultRouter

from governance.api import urls as governance_api_urls
from portfolio.api import urls as portfolio_api_urls
from registry.api import urls as registry_api_urls
from runtime.api import urls as runtime_api_urls
from telemetry.api import urls as telemetry_api_urls

router = DefaultRouter()
for module in (registry_api_urls, telemetry_api_urls, governance_api_urls, runtime_api_urls, portfolio_api_urls):
    module.register(router)

app_name = "api"
urlpatterns = [
    *registry_api_urls.extra_urlpatterns,
    *telemetry_api_urls.extra_urlpatterns,
    *governance_api_urls.extra_urlpatterns,
    *runtime_api_urls.extra_urlpatterns,
    *portfolio_api_urls.extra_urlpatterns,
    *router.urls,
]
