from rest_framework.routers import SimpleRouter

from displays.api.views import DisplayMessageViewSet

router = SimpleRouter()
router.register("display-messages", DisplayMessageViewSet, basename="display-message")

urlpatterns = router.urls
