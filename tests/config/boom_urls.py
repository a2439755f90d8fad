"""The project's URLs plus views that fail on purpose, for error-page tests."""

from django.urls import path

from config.urls import handler404, handler500
from config.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("secret detail of the failure")


urlpatterns = [path("boom/", boom), path("api/boom/", boom), *project_urlpatterns]
__all__ = ["handler404", "handler500", "urlpatterns"]
