from rest_framework.routers import SimpleRouter

from diagnostics.api.views import LogRequestViewSet

router = SimpleRouter()
router.register("log-requests", LogRequestViewSet, basename="log-request")

urlpatterns = router.urls
