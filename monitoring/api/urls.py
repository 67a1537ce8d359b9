from rest_framework.routers import SimpleRouter

from monitoring.api import views

router = SimpleRouter()
router.register("monitors", views.MonitorViewSet, basename="monitor")
router.register("station-events", views.NoticeViewSet, basename="station-event")
router.register("alerts", views.AlertViewSet, basename="alert")
router.register("security-events", views.SecurityEventViewSet, basename="security-event")
router.register("customer-requests", views.CustomerRequestViewSet, basename="customer-request")

urlpatterns = router.urls
