"""The AuthZEN endpoints sit at the site root, where policy enforcement points look for them."""

from django.urls import path

from runtime import endpoints, views

app_name = "runtime"
urlpatterns = [
    path("access/v1/evaluation", endpoints.evaluation, name="evaluation"),
    path("access/v1/evaluations", endpoints.evaluations, name="evaluations"),
    path(".well-known/authzen-configuration", endpoints.configuration, name="authzen-configuration"),
    path("runtime/credentials/", views.credentials, name="credentials"),
]
