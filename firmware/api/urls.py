from rest_framework.routers import SimpleRouter

from firmware.api import views

router = SimpleRouter()
router.register("firmware-images", views.FirmwareImageViewSet, basename="firmware-image")
router.register("firmware-updates", views.FirmwareUpdateViewSet, basename="firmware-update")
router.register("firmware-campaigns", views.CampaignViewSet, basename="firmware-campaign")

urlpatterns = router.urls
