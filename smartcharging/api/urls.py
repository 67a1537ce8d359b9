from rest_framework.routers import SimpleRouter

from smartcharging.api import views

router = SimpleRouter()
router.register("charging-profiles", views.ProfileViewSet, basename="charging-profile")
router.register("composite-schedules", views.CompositeViewSet, basename="composite-schedule")
router.register("external-limits", views.LimitViewSet, basename="external-limit")
router.register("charging-needs", views.NeedsViewSet, basename="charging-needs")

urlpatterns = router.urls
