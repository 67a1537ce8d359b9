"""The whole REST API under /api/: each app contributes its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("stations.api.urls")),
    path("", include("reservations.api.urls")),
]
