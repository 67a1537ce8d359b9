from __future__ import annotations

import builtins

from rest_framework import serializers

from locallists.models import AuthorizationList, ListUpdate, StationList
from stations.models import IdToken


class AuthorizationListSerializer(serializers.ModelSerializer):
    tokens = serializers.SlugRelatedField(
        slug_field="token", many=True, queryset=IdToken.objects.all(), required=False
    )
    stations: serializers.Field = serializers.SlugRelatedField(
        slug_field="station_id", many=True, read_only=True
    )

    class Meta:
        model = AuthorizationList
        fields = ["id", "name", "all_tokens", "tokens", "stations", "created_at", "updated_at"]


class ListUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ListUpdate
        fields = ["version", "update_type", "added", "removed", "status", "source", "created_at"]


class StationListSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)
    list = serializers.SlugRelatedField(
        slug_field="name", queryset=AuthorizationList.objects.all(), allow_null=True
    )
    entries = serializers.SerializerMethodField()
    updates = serializers.SerializerMethodField()

    class Meta:
        model = StationList
        fields = [
            "station",
            "list",
            "state",
            "detail",
            "version",
            "station_version",
            "needs_full",
            "synced_at",
            "checked_at",
            "entries",
            "updates",
        ]
        read_only_fields = [
            "state",
            "detail",
            "version",
            "station_version",
            "needs_full",
            "synced_at",
            "checked_at",
        ]

    def get_entries(self, found: StationList) -> int:
        """How many tokens the station holds, as far as the CSMS knows."""
        return found.entries.count()

    def get_updates(self, found: StationList) -> builtins.list[dict]:
        recent = found.station.list_updates.all()[:10]
        return list(ListUpdateSerializer(recent, many=True).data)


class SyncSerializer(serializers.Serializer):
    full = serializers.BooleanField(default=False, help_text="A Full update even if not due.")
