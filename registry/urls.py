from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("", views.home, name="home"),
    path("start/", views.landing, name="landing"),
    path("agents/", views.catalog, name="catalog"),
    path("agents/new/", views.agent_create, name="agent-create"),
    path("agents/new/quick/", views.agent_quick_create, name="agent-quick-create"),
    path("agents/new/from-card/", views.agent_card_register, name="agent-card-register"),
    path("agents/import/", views.agent_import, name="agent-import"),
    path("agents/import/template.<str:fmt>", views.agent_import_template, name="agent-import-template"),
    path("agents/<str:key>/", views.agent_detail, name="agent-detail"),
    path("agents/<str:key>/edit/", views.agent_edit, name="agent-edit"),
    path("agents/<str:key>/history/", views.agent_history, name="agent-history"),
    path("agents/<str:key>/transition/", views.agent_transition, name="agent-transition"),
    path("agents/<str:key>/transfer/", views.agent_transfer, name="agent-transfer"),
    path("agents/<str:key>/delegates/", views.agent_delegates, name="agent-delegates"),
    path("agents/<str:key>/card/", views.agent_card, name="agent-card"),
    path("agents/<str:key>/versions/new/", views.version_create, name="version-create"),
    path("mcp-servers/", views.mcp_list, name="mcp-list"),
    path("mcp-servers/new/", views.mcp_create, name="mcp-create"),
    path("mcp-servers/<str:key>/", views.mcp_detail, name="mcp-detail"),
    path("mcp-servers/<str:key>/edit/", views.mcp_edit, name="mcp-edit"),
    path("mcp-servers/<str:key>/scan/", views.mcp_scan, name="mcp-scan"),
    path("mcp-servers/<str:key>/approve/", views.mcp_approve, name="mcp-approve"),
    path("mcp-servers/<str:key>/tools/<str:tool_key>/access/", views.mcp_tool_access, name="mcp-tool-access"),
    path("agents/<str:key>/stop/", views.agent_stop, name="agent-stop"),
    path("stops/", views.stop_list, name="stop-list"),
    path("stops/<int:pk>/lift/", views.stop_lift, name="stop-lift"),
    path("people/", views.people_search, name="people-search"),
    path("handovers/", views.handovers, name="handovers"),
    path("profile/", views.profile, name="profile"),
]
