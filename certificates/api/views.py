"""Certificates over REST: the certificates the CSMS signed for stations (each from its CSR to the
station's answer, `?expiring=true` for those due for renewal), what stations report installed,
and a renewal (`POST /api/stations/<id>/renew-certificate/`). Installing, listing and deleting
root certificates are commands (InstallCertificate, GetInstalledCertificateIds,
DeleteCertificate)."""

from __future__ import annotations

import django_filters
from asgiref.sync import async_to_sync
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from certificates import remote, services
from certificates.models import InstalledCertificate, SigningRequest
from csms_site.api import ApiError, IsStaff
from stations.api.command_views import command_response, refused_error
from stations.models import Station
from stations.remote.results import CommandRefused


class SigningRequestSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")
    state_display = serializers.CharField(source="get_state_display", read_only=True)

    class Meta:
        model = SigningRequest
        fields = [
            "id",
            "station",
            "kind",
            "subject",
            "state",
            "state_display",
            "problem",
            "serial_number",
            "not_before",
            "not_after",
            "answer_info",
            "created_at",
            "answered_at",
            "certificate",
        ]


class SigningRequestFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station_id")
    expiring = django_filters.BooleanFilter(method="due", label="Due for renewal")

    class Meta:
        model = SigningRequest
        fields = ["kind", "state"]

    def due(self, queryset, name, value):
        due = services.expiring().values("pk")
        return queryset.filter(pk__in=due) if value else queryset.exclude(pk__in=due)


class SigningRequestViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = SigningRequestSerializer
    filterset_class = SigningRequestFilter
    queryset = SigningRequest.objects.all()


class InstalledCertificateSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")

    class Meta:
        model = InstalledCertificate
        fields = [
            "id",
            "station",
            "certificate_type",
            "hash_algorithm",
            "issuer_name_hash",
            "issuer_key_hash",
            "serial_number",
            "children",
            "reported_at",
            "deleted_at",
        ]


class InstalledCertificateFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station_id")
    deleted = django_filters.BooleanFilter(
        field_name="deleted_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = InstalledCertificate
        fields = ["certificate_type"]


class InstalledCertificateViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = InstalledCertificateSerializer
    filterset_class = InstalledCertificateFilter
    queryset = InstalledCertificate.objects.all()


class RenewSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=SigningRequest.Kind.choices, default=SigningRequest.Kind.CHARGING_STATION
    )


class RenewCertificateView(APIView):
    """POST /api/stations/<id>/renew-certificate/: ask the station for a new CSR (A02); the
    answer is the station's to the trigger, the certificate follows (GET /api/signing-requests/)."""

    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="station_renew_certificate",
        summary="Ask the station to renew its certificate (TriggerMessage / ExtendedTriggerMessage)",
        request=RenewSerializer,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The station's answer"),
            404: OpenApiResponse(description="No such station"),
            503: OpenApiResponse(description="The station is not connected"),
        },
    )
    def post(self, request: Request, station_id: str) -> Response:
        body = RenewSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        protocol = Station.objects.filter(pk=station_id).values_list("protocol", flat=True).first()
        if protocol is None:
            raise ApiError(404, f"No such station: {station_id}")
        try:
            result = async_to_sync(remote.renew)(
                station_id, protocol, body.validated_data["kind"], user=request.user, source="api"
            )
        except CommandRefused as refused:
            raise refused_error(refused) from None
        return command_response(result, station_id, "the certificate renewal")
