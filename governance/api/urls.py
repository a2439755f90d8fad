"""API routes of this app, registered on the shared /api/v1/ router by config.api_urls."""

extra_urlpatterns: list = []


def register(router) -> None:
    from governance.api import findings

    router.register("findings", findings.FindingViewSet, basename="finding")
    router.register("check-runs", findings.CheckRunViewSet, basename="checkrun")
