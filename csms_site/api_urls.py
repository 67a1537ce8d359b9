"""The whole REST API under /api/: each app contributes its own routes; the root lists them all."""

from django.urls import include, path

from csms_site.api import ApiRootView

urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("", include("stations.api.urls")),
    path("", include("reservations.api.urls")),
    path("", include("devicemodel.api.urls")),
    path("", include("locallists.api.urls")),
    path("", include("monitoring.api.urls")),
    path("", include("displays.api.urls")),
    path("", include("diagnostics.api.urls")),
    path("", include("certificates.api.urls")),
    path("", include("firmware.api.urls")),
    path("", include("smartcharging.api.urls")),
    path("", include("sites.api.urls")),
    path("", include("tariffs.api.urls")),
]
