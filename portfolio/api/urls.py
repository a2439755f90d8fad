"""API routes of this app, registered on the shared /api/v1/ router by config.api_urls."""

extra_urlpatterns: list = []


def register(router) -> None:
    pass
