"""Registry routes on the shared /api/v1/ router."""

from django.urls import path

from registry.api import views

extra_urlpatterns: list = [
    path("schemas/agent-manifest.json", views.ManifestSchemaView.as_view(), name="agent-manifest-schema"),
]


def register(router) -> None:
    router.register("agents", views.AgentViewSet, basename="agent")
    router.register("business-units", views.BusinessUnitViewSet, basename="businessunit")
    router.register("tools", views.ToolViewSet, basename="tool")
    router.register("agent-versions", views.AgentVersionViewSet, basename="agentversion")
    router.register("handovers", views.HandoverViewSet, basename="handover")
    router.register("mcp-servers", views.McpServerViewSet, basename="mcpserver")
    router.register("stops", views.StopViewSet, basename="stop")
