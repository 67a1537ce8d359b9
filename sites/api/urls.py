from django.urls import path
from rest_framework.routers import SimpleRouter

from sites.api import views

router = SimpleRouter()
router.register("sites", views.SiteViewSet, basename="site")
router.register("circuits", views.CircuitViewSet, basename="circuit")

urlpatterns = [
    *router.urls,
    path(
        "stations/<str:station_id>/placement/",
        views.PlacementView.as_view(),
        name="station-placement",
    ),
]
