"""Smart charging over REST (read): every station's charging profiles (`?state=active` for those
installed), composite schedules, external limits and EV charging needs. Setting, clearing and
asking for profiles are commands (SetChargingProfile, ClearChargingProfile, GetChargingProfiles,
GetCompositeSchedule)."""

from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from csms_site.api import IsStaff
from smartcharging.models import ChargingNeeds, ChargingProfile, CompositeSchedule, ExternalLimit


class StationFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station_id")


class ProfileSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")

    class Meta:
        model = ChargingProfile
        exclude = ["requested_by"]


class ProfileFilter(StationFilter):
    class Meta:
        model = ChargingProfile
        fields = ["state", "purpose", "origin", "evse_id"]


class ProfileViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = ProfileSerializer
    filterset_class = ProfileFilter
    queryset = ChargingProfile.objects.all()


class CompositeSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")

    class Meta:
        model = CompositeSchedule
        exclude = ["requested_by"]


class CompositeViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = CompositeSerializer
    filterset_class = StationFilter
    queryset = CompositeSchedule.objects.all()


class LimitSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")

    class Meta:
        model = ExternalLimit
        fields = "__all__"


class LimitFilter(StationFilter):
    active = django_filters.BooleanFilter(field_name="cleared_at", lookup_expr="isnull")

    class Meta:
        model = ExternalLimit
        fields = ["source"]


class LimitViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = LimitSerializer
    filterset_class = LimitFilter
    queryset = ExternalLimit.objects.all()


class NeedsSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")

    class Meta:
        model = ChargingNeeds
        fields = "__all__"


class NeedsViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = NeedsSerializer
    filterset_class = StationFilter
    queryset = ChargingNeeds.objects.all()
