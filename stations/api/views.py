"""REST views for stations, transactions, ID tokens and the two logs.

Who sees what: any signed-in user reads stations (drivers look for a free charger) and their own
transactions; everything an operator decides or audits (station registration, ID tokens, the message
and command logs) is staff only. Every error, whatever raised it, has the shape of
`csms_site.api`.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, ProtectedError, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import filters, generics, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from csms_site.api import ApiError, IsStaff, StaffOrReadOnly, signed_in_user
from stations.api import parts
from stations.api.filters import (
    CommandFilter,
    IdTokenFilter,
    MessageLogFilter,
    StationFilter,
    TransactionFilter,
    with_availability,
)
from stations.api.serializers import (
    CommandSerializer,
    ConnectedStationIdsSerializer,
    ErrorSerializer,
    IdTokenSerializer,
    MessageLogSerializer,
    StaffStationSerializer,
    StationSerializer,
    TransactionDetailSerializer,
    TransactionSerializer,
)
from stations.models import (
    Command,
    Connector,
    IdToken,
    MessageLog,
    MeterSample,
    Station,
    Transaction,
)

ERROR = OpenApiResponse(ErrorSerializer, description="The error, in the API's one error shape.")


def _is_staff(request: Request) -> bool:
    return bool(request.user and request.user.is_authenticated and request.user.is_staff)


@extend_schema_view(
    list=extend_schema(summary="List stations with their EVSEs and connector statuses"),
    retrieve=extend_schema(summary="One station with its EVSEs and connector statuses"),
    create=extend_schema(
        summary="Register a station (staff)",
        responses={201: StaffStationSerializer, 400: ERROR},
    ),
    partial_update=extend_schema(
        summary="Change a station's registration status or password (staff)",
        responses={200: StaffStationSerializer, 400: ERROR},
    ),
    destroy=extend_schema(
        summary="Delete a station (staff)",
        responses={
            204: None,
            409: OpenApiResponse(
                ErrorSerializer, description="The station has transactions and is kept."
            ),
        },
    ),
)
class StationViewSet(viewsets.ModelViewSet):
    permission_classes = [StaffOrReadOnly]
    # Identities may contain '.' and '-'; the router's default pattern would stop at a dot.
    lookup_value_regex = r"[A-Za-z0-9_.\-]+"
    # No PUT: a station's reported data is not the client's to replace; PATCH changes decisions.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filter_backends = [DjangoFilterBackend, filters.SearchFilter]
    filterset_class = StationFilter
    search_fields = ["id", "vendor", "model"]
    queryset = Station.objects.all()

    def get_queryset(self) -> QuerySet[Station]:
        connectors = Connector.objects.order_by("evse_id", "connector_id")
        return with_availability(
            Station.objects.prefetch_related(Prefetch("connectors", queryset=connectors))
        )

    def get_serializer_class(self) -> type[BaseSerializer]:
        if getattr(self, "swagger_fake_view", False) or _is_staff(self.request):
            return StaffStationSerializer
        return StationSerializer

    def perform_create(self, serializer: BaseSerializer) -> None:
        try:
            with transaction.atomic():
                station = serializer.save()
        except IntegrityError:
            # Two registrations of one identity raced past the uniqueness check.
            raise serializers.ValidationError(
                {"id": ["A station with this identity already exists."]}
            ) from None
        self._reload(serializer, station)

    def perform_update(self, serializer: BaseSerializer) -> None:
        self._reload(serializer, serializer.save())

    def _reload(self, serializer: BaseSerializer, saved: Station) -> None:
        """Answer a write with exactly what a GET returns (`available` is computed by the query)."""
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_destroy(self, instance: Station) -> None:
        try:
            with transaction.atomic():
                instance.delete()
        except ProtectedError:
            count = Transaction.objects.filter(station=instance).count()
            raise ApiError(
                409,
                f"{instance.pk} has {count} transaction(s), which are billing records and are "
                "kept; set its registration status to Rejected instead.",
                transactions=count,
            ) from None


@extend_schema_view(
    list=extend_schema(summary="List transactions (drivers: those of their own ID tokens)"),
    retrieve=extend_schema(summary="One transaction with its meter samples"),
)
class TransactionViewSet(viewsets.ReadOnlyModelViewSet):
    filterset_class = TransactionFilter
    queryset = Transaction.objects.all()

    def get_queryset(self) -> QuerySet[Transaction]:
        queryset = Transaction.objects.select_related(*parts.related())
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        if self.action == "retrieve":
            samples = MeterSample.objects.order_by("timestamp", "id")
            queryset = queryset.prefetch_related(Prefetch("samples", queryset=samples))
        if not _is_staff(self.request):
            # A driver's transactions are those started with one of their tokens; anyone else's
            # are not found rather than forbidden, so their existence does not leak either.
            own = IdToken.objects.filter(user=signed_in_user(self.request)).values("token")
            queryset = queryset.filter(id_token__in=own)
        return queryset

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "retrieve":
            return TransactionDetailSerializer
        return TransactionSerializer


@extend_schema_view(
    list=extend_schema(summary="List ID tokens (staff)"),
    retrieve=extend_schema(summary="One ID token (staff)"),
    create=extend_schema(summary="Add an ID token (staff)"),
    update=extend_schema(summary="Replace an ID token (staff)"),
    partial_update=extend_schema(summary="Change an ID token (staff)"),
    destroy=extend_schema(summary="Delete an ID token (staff)"),
)
class IdTokenViewSet(viewsets.ModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = IdTokenSerializer
    queryset = IdToken.objects.select_related("parent")
    filter_backends = [DjangoFilterBackend, filters.SearchFilter]
    filterset_class = IdTokenFilter
    search_fields = ["token"]


class StationMessageListView(generics.ListAPIView):
    """Explicit rather than a nested route: the log outlives its station's row (it is keyed by the
    identity string), yet asking for an unknown station should say so instead of an empty page."""

    permission_classes = [IsStaff]
    serializer_class = MessageLogSerializer
    filterset_class = MessageLogFilter
    queryset = MessageLog.objects.all()

    def get_queryset(self) -> QuerySet[MessageLog]:
        return MessageLog.objects.filter(station_id=self.kwargs.get("station_id", ""))

    @extend_schema(
        operation_id="station_messages_list",
        summary="The frames a station sent and received, newest first (staff)",
        parameters=[
            OpenApiParameter("station_id", str, OpenApiParameter.PATH, description="Identity")
        ],
        responses={200: MessageLogSerializer(many=True), 404: ERROR},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        station_id = kwargs["station_id"]
        if not Station.objects.filter(pk=station_id).exists():
            raise ApiError(404, f"No such station: {station_id}")
        return self.list(request, *args, **kwargs)


@extend_schema_view(
    list=extend_schema(summary="Commands sent to stations, newest first (staff)"),
    retrieve=extend_schema(summary="One command sent to a station (staff)"),
)
class CommandViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = CommandSerializer
    queryset = Command.objects.select_related("requested_by")
    filterset_class = CommandFilter


def connected_station_ids() -> list[str]:
    """The identities of the stations connected now (`connected` in the station list), sorted."""
    rows = Station.objects.filter(connected=True).order_by("id")
    return list(rows.values_list("id", flat=True))


class ConnectedStationIdsView(APIView):
    """Seed 001's list of connected charge points (its `GET /list`), in its shape: the ids only,
    unpaginated. A station appears when it connects and goes when it disconnects."""

    @extend_schema(
        operation_id="cp_ids",
        summary="The identities of the connected stations",
        responses={200: ConnectedStationIdsSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response({"cp_ids": connected_station_ids()})
