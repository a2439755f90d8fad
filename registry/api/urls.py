"""Registry routes on the shared /api/v1/ router."""

from registry.api import views

extra_urlpatterns: list = []


def register(router) -> None:
    router.register("agents", views.AgentViewSet, basename="agent")
    router.register("business-units", views.BusinessUnitViewSet, basename="businessunit")
    router.register("tools", views.ToolViewSet, basename="tool")
    router.register("agent-versions", views.AgentVersionViewSet, basename="agentversion")
    router.register("stops", views.StopViewSet, basename="stop")
