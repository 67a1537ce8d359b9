"""Tariffs over REST: tariffs and where they apply, each session's cost, and the billing export
(CSV of ended sessions with their costs, streamed however long the range)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.views import APIView

from csms_site.api import ApiError, IsStaff
from tariffs.api.serializers import (
    SessionCostSerializer,
    TariffAssignmentSerializer,
    TariffSerializer,
)
from tariffs.models import SessionCost, Tariff, TariffAssignment
from tariffs.pricing import quantum


class TariffViewSet(viewsets.ModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = TariffSerializer
    queryset = Tariff.objects.all()


class TariffAssignmentViewSet(viewsets.ModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = TariffAssignmentSerializer
    queryset = TariffAssignment.objects.select_related("tariff", "site", "station")
    filterset_fields = ["tariff", "site", "station"]


class SessionCostFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="transaction__station_id")
    site = django_filters.NumberFilter(method="by_site", help_text="A site's id.")
    stopped_after = django_filters.IsoDateTimeFilter(
        field_name="transaction__stopped_at", lookup_expr="gte"
    )
    stopped_before = django_filters.IsoDateTimeFilter(
        field_name="transaction__stopped_at", lookup_expr="lt"
    )

    def by_site(self, queryset: QuerySet[SessionCost], name: str, value: int) -> Any:
        return queryset.filter(transaction__station__placement__site_id=value)

    class Meta:
        model = SessionCost
        fields = ["station", "site", "final", "currency", "tariff"]


class SessionCostViewSet(viewsets.ReadOnlyModelViewSet):
    """Each priced session's cost: its kept prices, usage and parts (final once it has ended)."""

    permission_classes = [IsStaff]
    serializer_class = SessionCostSerializer
    queryset = SessionCost.objects.select_related("transaction").order_by("-transaction_id")
    filterset_class = SessionCostFilter


class _Echo:
    def write(self, value: str) -> str:
        return value


COLUMNS = [
    "station",
    "transaction_id",
    "id_token",
    "started_at",
    "stopped_at",
    "stop_reason",
    "energy_kwh",
    "charging_minutes",
    "idle_minutes",
    "currency",
    "session_fee",
    "energy_cost",
    "time_cost",
    "idle_cost",
    "net",
    "vat",
    "total",
    "tariff",
]


class BillingExportView(APIView):
    """GET /api/billing/sessions.csv: every ended, priced session, oldest first, one CSV row each
    (the same filters as /api/session-costs/). Streamed: a year of sessions costs no memory."""

    permission_classes = [IsStaff]

    @extend_schema(
        summary="Billing export (CSV)",
        parameters=[
            OpenApiParameter("station", str),
            OpenApiParameter("site", int),
            OpenApiParameter("stopped_after", str, description="ISO 8601"),
            OpenApiParameter("stopped_before", str, description="ISO 8601"),
        ],
        responses={(200, "text/csv"): str},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        rows = SessionCost.objects.filter(final=True).select_related("transaction", "tariff")
        filtered = SessionCostFilter(request.query_params, queryset=rows)
        if not filtered.is_valid():
            raise ApiError(
                400, "; ".join(f"{k}: {' '.join(v)}" for k, v in filtered.errors.items())
            )
        queryset = filtered.qs.order_by("transaction__stopped_at", "transaction_id")
        response = StreamingHttpResponse(self._lines(queryset), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="sessions.csv"'
        return response

    @staticmethod
    def _lines(queryset: QuerySet[SessionCost]) -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(COLUMNS)
        for cost in queryset.iterator(chunk_size=1000):
            tx = cost.transaction
            yield writer.writerow(
                [
                    tx.station_id,
                    tx.transaction_id,
                    tx.id_token,
                    tx.started_at.isoformat(),
                    tx.stopped_at.isoformat() if tx.stopped_at else "",
                    tx.stop_reason,
                    f"{cost.energy_wh / 1000:.3f}",
                    f"{cost.charging_seconds / 60:.1f}",
                    f"{cost.idle_seconds / 60:.1f}",
                    cost.currency,
                    *(
                        str(value.quantize(quantum(cost.currency)))
                        for value in (
                            cost.session_fee,
                            cost.energy_cost,
                            cost.time_cost,
                            cost.idle_cost,
                            cost.net,
                            cost.vat,
                            cost.total,
                        )
                    ),
                    cost.tariff.name if cost.tariff else "",
                ]
            )
