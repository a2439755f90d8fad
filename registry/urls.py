from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("", views.home, name="home"),
    path("agents/", views.catalog, name="catalog"),
    path("agents/new/", views.agent_create, name="agent-create"),
    path("agents/<str:key>/", views.agent_detail, name="agent-detail"),
    path("agents/<str:key>/edit/", views.agent_edit, name="agent-edit"),
    path("agents/<str:key>/transition/", views.agent_transition, name="agent-transition"),
    path("agents/<str:key>/transfer/", views.agent_transfer, name="agent-transfer"),
    path("agents/<str:key>/delegates/", views.agent_delegates, name="agent-delegates"),
    path("agents/<str:key>/versions/new/", views.version_create, name="version-create"),
    path("agents/<str:key>/stop/", views.agent_stop, name="agent-stop"),
    path("stops/", views.stop_list, name="stop-list"),
    path("stops/<int:pk>/lift/", views.stop_lift, name="stop-lift"),
    path("people/", views.people_search, name="people-search"),
    path("profile/", views.profile, name="profile"),
]
