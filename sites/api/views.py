"""Sites over REST: sites and their circuits (create, change, delete; the default site stays),
and where each station is (`PUT /api/stations/<id>/placement/`)."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from csms_site.api import ApiError, IsStaff
from sites import services
from sites.models import Circuit, Placement, Site
from stations.models import Station


def cleaned(
    serializer: serializers.ModelSerializer, blank: Any, data: dict[str, Any]
) -> dict[str, Any]:
    """Run the model's own checks (`clean`) on the object as it would be, so that REST refuses
    what the admin refuses."""
    candidate = copy.copy(serializer.instance) if serializer.instance is not None else blank
    for name, value in data.items():
        setattr(candidate, name, value)
    try:
        candidate.clean()
    except DjangoValidationError as error:
        raise serializers.ValidationError(
            error.message_dict if hasattr(error, "error_dict") else error.messages
        ) from None
    return data


class SiteSerializer(serializers.ModelSerializer):
    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        return cleaned(self, Site(), data)

    class Meta:
        model = Site
        fields = [
            "id",
            "name",
            "address",
            "city",
            "postal_code",
            "country",
            "time_zone",
            "latitude",
            "longitude",
            "is_default",
            "created_at",
        ]
        read_only_fields = ["is_default", "created_at"]


class SiteViewSet(viewsets.ModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = SiteSerializer
    queryset = Site.objects.all()

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        site = self.get_object()
        if site.is_default:
            raise ApiError(
                409, "The default site holds every station not placed elsewhere: it stays"
            )
        if site.placements.exists():
            raise ApiError(409, "Move the site's stations first")
        return super().destroy(request, *args, **kwargs)


class CircuitSerializer(serializers.ModelSerializer):
    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        return cleaned(self, Circuit(), data)

    class Meta:
        model = Circuit
        fields = ["id", "site", "parent", "name", "limit_a", "limit_w", "phases", "voltage"]


class CircuitViewSet(viewsets.ModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = CircuitSerializer
    queryset = Circuit.objects.select_related("site")
    filterset_fields = ["site"]


class PlacementSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)

    class Meta:
        model = Placement
        fields = ["station", "site", "circuit", "priority"]


class PlacementView(APIView):
    """GET/PUT /api/stations/<id>/placement/: its site (the default one if never placed), its
    circuit and its priority in load management."""

    permission_classes = [IsStaff]
    serializer_class = PlacementSerializer

    @extend_schema(responses=PlacementSerializer, summary="Where the station is")
    def get(self, request: Request, station_id: str) -> Response:
        station = get_object_or_404(Station, pk=station_id)
        placement = Placement.objects.filter(station=station).first()
        if placement is None:
            return Response(
                {
                    "station": station.pk,
                    "site": services.default_site().pk,
                    "circuit": None,
                    "priority": 0,
                }
            )
        return Response(PlacementSerializer(placement).data)

    @extend_schema(
        request=PlacementSerializer, responses=PlacementSerializer, summary="Place the station"
    )
    def put(self, request: Request, station_id: str) -> Response:
        station = get_object_or_404(Station, pk=station_id)
        body = PlacementSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        circuit = data.get("circuit")
        if circuit is not None and circuit.site_id != data["site"].pk:
            raise ApiError(400, "The circuit is on another site")
        placement, _ = Placement.objects.update_or_create(
            station=station,
            defaults={
                "site": data["site"],
                "circuit": circuit,
                "priority": data.get("priority", 0),
            },
        )
        return Response(PlacementSerializer(placement).data)
