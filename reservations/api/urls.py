from django.urls import path
from rest_framework.routers import SimpleRouter

from reservations.api.views import QuickReserveView, ReservationViewSet

router = SimpleRouter()
router.register("reservations", ReservationViewSet, basename="reservation")

urlpatterns = [
    path("stations/<str:station_id>/reserve/", QuickReserveView.as_view(), name="station-reserve"),
    *router.urls,
]
