"""Display messages over REST (read; set and clear them with the commands
SetDisplayMessage / ClearDisplayMessage)."""

from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from csms_site.api import IsStaff
from displays.models import DisplayMessage


class DisplayMessageSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")

    class Meta:
        model = DisplayMessage
        fields = [
            "id",
            "station",
            "message_id",
            "content",
            "format",
            "language",
            "priority",
            "state",
            "start_at",
            "end_at",
            "transaction_id",
            "origin",
            "status",
            "status_info",
            "active",
            "updated_at",
        ]


class DisplayMessageFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station_id")

    class Meta:
        model = DisplayMessage
        fields = ["active", "priority", "state", "origin"]


class DisplayMessageViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = DisplayMessageSerializer
    filterset_class = DisplayMessageFilter
    queryset = DisplayMessage.objects.all()
