from django.urls import path

from stations.api import commands

urlpatterns = [
    path(
        "stations/<str:station_id>/commands/<str:action>/",
        commands.StationCommandView.as_view(),
        name="station-command",
    ),
]
