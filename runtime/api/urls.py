"""Runtime routes on the shared /api/v1/ router."""

from django.urls import path

from runtime.api import views

extra_urlpatterns = [path("policy/cedar/", views.CedarExportView.as_view(), name="policy-cedar")]


def register(router) -> None:
    router.register("gateway-credentials", views.GatewayCredentialViewSet, basename="gatewaycredential")
    router.register("decision-denials", views.DenialRecordViewSet, basename="denialrecord")
