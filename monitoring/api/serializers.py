from __future__ import annotations

from rest_framework import serializers

from monitoring.models import (
    Alert,
    CustomerRequest,
    SecurityEvent,
    StationNotice,
    VariableMonitor,
)


class MonitorSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")

    class Meta:
        model = VariableMonitor
        fields = [
            "id",
            "station",
            "monitor_id",
            "component",
            "variable",
            "type",
            "value",
            "severity",
            "transaction",
            "origin",
            "status",
            "status_info",
            "active",
            "updated_at",
        ]


class NoticeSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")

    class Meta:
        model = StationNotice
        fields = [
            "id",
            "station",
            "event_id",
            "timestamp",
            "trigger",
            "actual_value",
            "cleared",
            "severity",
            "component",
            "variable",
            "monitor_id",
            "notification_type",
            "tech_code",
            "tech_info",
            "transaction_id",
            "received_at",
        ]


class AlertSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")
    active = serializers.BooleanField(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "station",
            "component",
            "variable",
            "severity",
            "message",
            "active",
            "raised_at",
            "cleared_at",
            "cleared_by",
        ]


class CustomerRequestSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")
    reported = serializers.CharField(source="data", read_only=True)

    class Meta:
        model = CustomerRequest
        fields = [
            "id",
            "station",
            "request_id",
            "report",
            "clear",
            "customer",
            "status",
            "reported",
        ]


class SecurityEventSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")

    class Meta:
        model = SecurityEvent
        fields = ["id", "station", "type", "timestamp", "tech_info", "critical", "received_at"]
