"""The device model over REST: a station's variables (the configuration view of both versions),
its reports, and the history of changes. Changing a value is a command
(`POST /api/stations/<id>/commands/SetVariables/` or `ChangeConfiguration`), which checks it
against what is stored here first."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from csms_site.api import ApiError, IsStaff
from devicemodel.api.filters import ReportFilter, VariableChangeFilter, VariableFilter
from devicemodel.api.serializers import (
    ReportSerializer,
    VariableChangeSerializer,
    VariableSerializer,
)
from devicemodel.models import Report, Variable, VariableAttribute, VariableChange
from stations.models import Station

STATION = OpenApiParameter("station_id", str, OpenApiParameter.PATH, description="Identity")


class _StationScoped(generics.ListAPIView):
    """A list of one station's rows: 404 for an unknown station, rather than an empty page."""

    permission_classes = [IsStaff]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        station_id = kwargs["station_id"]
        if not Station.objects.filter(pk=station_id).exists():
            raise ApiError(404, f"No such station: {station_id}")
        return self.list(request, *args, **kwargs)


class StationVariableListView(_StationScoped):
    serializer_class = VariableSerializer
    filterset_class = VariableFilter
    queryset = Variable.objects.none()

    def get_queryset(self) -> QuerySet[Variable]:
        return (
            Variable.objects.filter(component__station_id=self.kwargs.get("station_id", ""))
            .select_related("component")
            .prefetch_related(Prefetch("attributes", VariableAttribute.objects.order_by("type")))
            .order_by(
                "component__name",
                "component__instance",
                "component__evse_id",
                "component__connector_id",
                "name",
                "instance",
            )
        )

    @extend_schema(
        operation_id="station_variables_list",
        summary="A station's variables with their values and characteristics (staff)",
        parameters=[STATION],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class StationReportListView(_StationScoped):
    serializer_class = ReportSerializer
    filterset_class = ReportFilter
    queryset = Report.objects.none()

    def get_queryset(self) -> QuerySet[Report]:
        return Report.objects.filter(station_id=self.kwargs.get("station_id", ""))

    @extend_schema(
        operation_id="station_reports_list",
        summary="A station's reports (GetBaseReport, GetReport, 1.6 GetConfiguration), newest "
        "first, with the parts still missing (staff)",
        parameters=[STATION],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class VariableChangeListView(generics.ListAPIView):
    """Every configuration change asked of any station, newest first, with the station's answer."""

    permission_classes = [IsStaff]
    serializer_class = VariableChangeSerializer
    filterset_class = VariableChangeFilter
    queryset = VariableChange.objects.select_related("requested_by")
