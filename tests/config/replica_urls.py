"""The project's URLs plus a routed view that reads, writes, then reads again, for the replica tests."""

from django.db import router
from django.http import JsonResponse
from django.urls import path

from config.urls import handler404, handler500
from config.urls import urlpatterns as project_urlpatterns
from registry.models import BusinessUnit


def rename_unit(request, pk):
    """Where each read of a business unit goes, before and after this request renames it."""
    before = router.db_for_read(BusinessUnit)
    BusinessUnit.objects.filter(pk=pk).update(name=request.GET["name"])
    after = router.db_for_read(BusinessUnit)
    return JsonResponse({"before": before, "after": after, "name": BusinessUnit.objects.get(pk=pk).name})


urlpatterns = [path("replica-probe/<int:pk>/", rename_unit, name="replica-probe"), *project_urlpatterns]
__all__ = ["handler404", "handler500", "urlpatterns"]
