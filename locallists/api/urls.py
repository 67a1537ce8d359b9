from django.urls import path
from rest_framework.routers import SimpleRouter

from locallists.api import views

router = SimpleRouter()
router.register(
    "authorization-lists", views.AuthorizationListViewSet, basename="authorization-list"
)

urlpatterns = [
    path(
        "stations/<str:station_id>/local-list/",
        views.StationListView.as_view(),
        name="station-local-list",
    ),
    path(
        "stations/<str:station_id>/local-list/sync/",
        views.StationListSyncView.as_view(),
        name="station-local-list-sync",
    ),
    *router.urls,
]
