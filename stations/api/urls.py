from django.urls import path
from rest_framework.routers import SimpleRouter

from stations.api import command_views, views

# A SimpleRouter: no root view of its own. The API root (`csms_site.api_urls`) lists every app's
# endpoints. No format suffixes either: station identities may contain '.', so `stations/CP.json`
# would be ambiguous between a station and a suffix; `?format=json` still picks a renderer.
router = SimpleRouter()
router.register("stations", views.StationViewSet, basename="station")
router.register("transactions", views.TransactionViewSet, basename="transaction")
router.register("id-tokens", views.IdTokenViewSet, basename="id-token")
router.register("commands", views.CommandViewSet, basename="command")

urlpatterns = [
    path("cp_ids/", views.ConnectedStationIdsView.as_view(), name="cp-ids"),
    path(
        "stations/<str:station_id>/commands/<str:action>/",
        command_views.StationCommandView.as_view(),
        name="station-command",
    ),
    path(
        "stations/<str:station_id>/rotate-key/",
        command_views.StationKeyRotationView.as_view(),
        name="station-rotate-key",
    ),
    path(
        "stations/<str:station_id>/messages/",
        views.StationMessageListView.as_view(),
        name="station-messages",
    ),
    *router.urls,
]
