from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from csms_site.health import health
from csms_site.metrics import metrics_view

admin.site.site_header = "CSMS administration"
admin.site.site_title = "CSMS"
admin.site.index_title = "Charging network"

urlpatterns = [
    path("health/", health, name="health"),
    # Prometheus scrapes /metrics, without a slash: no redirect either way.
    re_path(r"^metrics/?$", metrics_view, name="metrics"),
    path("", include("dashboard.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("csms_site.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api-auth/", include("rest_framework.urls")),
]
