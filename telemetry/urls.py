from django.urls import path

from telemetry import views

app_name = "telemetry"
urlpatterns = [
    path("sources/", views.source_list, name="source-list"),
    path("sources/<int:pk>/", views.source_detail, name="source-detail"),
    path("unknown-agents/", views.identity_list, name="identity-list"),
    path("unknown-agents/identity/", views.identity_detail, name="identity-detail"),
    path("unknown-agents/register/", views.identity_register, name="identity-register"),
    path("unknown-agents/link/", views.identity_link, name="identity-link"),
    path("unknown-agents/external/", views.identity_external, name="identity-external"),
]
