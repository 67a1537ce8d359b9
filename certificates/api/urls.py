from django.urls import path
from rest_framework.routers import SimpleRouter

from certificates.api import views

router = SimpleRouter()
router.register("signing-requests", views.SigningRequestViewSet, basename="signing-request")
router.register(
    "installed-certificates", views.InstalledCertificateViewSet, basename="installed-certificate"
)

urlpatterns = [
    *router.urls,
    path(
        "stations/<str:station_id>/renew-certificate/",
        views.RenewCertificateView.as_view(),
        name="station-renew-certificate",
    ),
]
