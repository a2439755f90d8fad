from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("", views.home, name="home"),
    path("start/", views.landing, name="landing"),
    path("agents/", views.catalog, name="catalog"),
    path("agents/new/", views.agent_create, name="agent-create"),
    path("agents/<str:key>/", views.agent_detail, name="agent-detail"),
    path("agents/<str:key>/edit/", views.agent_edit, name="agent-edit"),
    path("agents/<str:key>/history/", views.agent_history, name="agent-history"),
    path("agents/<str:key>/transition/", views.agent_transition, name="agent-transition"),
    path("agents/<str:key>/transfer/", views.agent_transfer, name="agent-transfer"),
    path("agents/<str:key>/delegates/", views.agent_delegates, name="agent-delegates"),
    path("agents/<str:key>/versions/new/", views.version_create, name="version-create"),
    path("people/", views.people_search, name="people-search"),
    path("profile/", views.profile, name="profile"),
]
