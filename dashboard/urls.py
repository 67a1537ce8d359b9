from django.urls import path

from dashboard import firmware, security, sites, tariffs, views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("summary.json", views.summary, name="summary"),
    path("stations/", views.station_list, name="stations"),
    path("stations/<str:station_id>/", views.station_detail, name="station"),
    path(
        "stations/<str:station_id>/configuration/",
        views.station_configuration,
        name="station-configuration",
    ),
    path("stations/<str:station_id>/security/", security.station_security, name="station-security"),
    path(
        "stations/<str:station_id>/certificates/renew/",
        security.renew_certificate,
        name="station-renew-certificate",
    ),
    path("certificates/", security.expiring_certificates, name="certificates"),
    path("firmware/", firmware.firmware, name="firmware"),
    path("sites/", sites.site_list, name="sites"),
    path("tariffs/", tariffs.tariff_list, name="tariffs"),
    path("firmware/campaigns/<int:campaign_id>/", firmware.campaign, name="campaign"),
    path(
        "firmware/campaigns/<int:campaign_id>/<slug:action>/",
        firmware.campaign_action,
        name="campaign-action",
    ),
    path(
        "stations/<str:station_id>/logs/<int:log_id>/file/",
        security.log_file,
        name="station-log-file",
    ),
    path(
        "stations/<str:station_id>/actions/rotate-key/",  # before the declared commands
        views.station_rotate_key,
        name="station-rotate-key",
    ),
    path(
        "stations/<str:station_id>/actions/<slug:action>/",
        views.station_action,
        name="station-action",
    ),
    path("transactions/", views.transaction_list, name="transactions"),
    path("alerts/<int:alert_id>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    path("reservations/", views.reservation_list, name="reservations"),
]
