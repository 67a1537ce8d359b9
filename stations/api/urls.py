from django.urls import path
from rest_framework.routers import DefaultRouter

from stations.api import commands, views


class Router(DefaultRouter):
    # Station identities may contain '.', so `stations/CP.json` would be ambiguous between a
    # station and a format suffix; `?format=json` still picks a renderer.
    include_format_suffixes = False


router = Router()
router.register("stations", views.StationViewSet, basename="station")
router.register("transactions", views.TransactionViewSet, basename="transaction")
router.register("id-tokens", views.IdTokenViewSet, basename="id-token")
router.register("commands", views.CommandViewSet, basename="command")

urlpatterns = [
    path(
        "stations/<str:station_id>/commands/<str:action>/",
        commands.StationCommandView.as_view(),
        name="station-command",
    ),
    path(
        "stations/<str:station_id>/messages/",
        views.StationMessageListView.as_view(),
        name="station-messages",
    ),
    *router.urls,
]
