from django.urls import path

from devicemodel.api import views

urlpatterns = [
    path(
        "stations/<str:station_id>/variables/",
        views.StationVariableListView.as_view(),
        name="station-variables",
    ),
    path(
        "stations/<str:station_id>/reports/",
        views.StationReportListView.as_view(),
        name="station-reports",
    ),
    path("variable-changes/", views.VariableChangeListView.as_view(), name="variable-changes"),
]
