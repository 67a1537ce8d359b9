"""Monitoring over REST: monitors, the stations' events, alerts (and acknowledging one), and
customer-information requests. Setting and clearing monitors are commands
(`POST /api/stations/<id>/commands/SetVariableMonitoring/`, ...)."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from csms_site.api import IsStaff
from monitoring import services
from monitoring.api.serializers import (
    AlertSerializer,
    CustomerRequestSerializer,
    MonitorSerializer,
    NoticeSerializer,
    SecurityEventSerializer,
)
from monitoring.models import Alert, CustomerRequest, SecurityEvent, StationNotice, VariableMonitor


class StationFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station_id")


class AlertFilter(StationFilter):
    active = django_filters.BooleanFilter(field_name="cleared_at", lookup_expr="isnull")

    class Meta:
        model = Alert
        fields = ["severity"]


class NoticeFilter(StationFilter):
    class Meta:
        model = StationNotice
        fields = ["trigger", "cleared", "severity", "component", "variable"]


class MonitorFilter(StationFilter):
    class Meta:
        model = VariableMonitor
        fields = ["type", "origin", "active", "component"]


class MonitorViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = MonitorSerializer
    filterset_class = MonitorFilter
    queryset = VariableMonitor.objects.all()


class NoticeViewSet(viewsets.ReadOnlyModelViewSet):
    """Every event the stations notified (NotifyEvent), newest first."""

    permission_classes = [IsStaff]
    serializer_class = NoticeSerializer
    filterset_class = NoticeFilter
    queryset = StationNotice.objects.all()


class AlertViewSet(viewsets.ReadOnlyModelViewSet, mixins.UpdateModelMixin):
    """Alerts: events at or above OCPP_ALERT_SEVERITY, open until the station clears them (or an
    operator acknowledges one). `?active=true` for the open ones."""

    permission_classes = [IsStaff]
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    queryset = Alert.objects.all()
    http_method_names = ["get", "post", "head", "options"]

    @extend_schema(request=None, responses=AlertSerializer, summary="Acknowledge (close) an alert")
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alert = services.acknowledge(self.get_object().pk, request.user)
        return Response(AlertSerializer(alert).data)


class CustomerRequestViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = CustomerRequestSerializer
    filterset_class = StationFilter
    queryset = CustomerRequest.objects.all()


class SecurityEventFilter(StationFilter):
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")

    class Meta:
        model = SecurityEvent
        fields = ["type", "critical"]


class SecurityEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The stations' security log (SecurityEventNotification), newest first; `?critical=true`,
    `?type=`, `?since=` (ISO 8601)."""

    permission_classes = [IsStaff]
    serializer_class = SecurityEventSerializer
    filterset_class = SecurityEventFilter
    queryset = SecurityEvent.objects.all()
