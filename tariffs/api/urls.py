from django.urls import path
from rest_framework.routers import SimpleRouter

from tariffs.api import views

router = SimpleRouter()
router.register("tariffs", views.TariffViewSet, basename="tariff")
router.register("tariff-assignments", views.TariffAssignmentViewSet, basename="tariff-assignment")
router.register("session-costs", views.SessionCostViewSet, basename="session-cost")

urlpatterns = [
    *router.urls,
    path("billing/sessions.csv", views.BillingExportView.as_view(), name="billing-export"),
]
