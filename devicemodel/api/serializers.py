from __future__ import annotations

from typing import Any

from rest_framework import serializers

from devicemodel.models import Report, Variable, VariableAttribute, VariableChange


class AttributeSerializer(serializers.ModelSerializer):
    value = serializers.SerializerMethodField(method_name="known_value")

    class Meta:
        model = VariableAttribute
        fields = [
            "type",
            "value",
            "mutability",
            "persistent",
            "constant",
            "reboot_required",
            "pending_value",
            "updated_at",
        ]

    def known_value(self, attribute: VariableAttribute) -> str | None:
        """None when the CSMS does not know it (a write-only variable)."""
        return attribute.value if attribute.value_known else None


class VariableSerializer(serializers.ModelSerializer):
    component = serializers.CharField(source="component.name")
    component_instance = serializers.CharField(source="component.instance")
    evse_id = serializers.IntegerField(source="component.evse_id")
    connector_id = serializers.IntegerField(source="component.connector_id")
    address = serializers.SerializerMethodField()
    attributes = AttributeSerializer(many=True)
    allowed_values = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Variable
        fields = [
            "id",
            "address",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "name",
            "instance",
            "unit",
            "data_type",
            "min_limit",
            "max_limit",
            "allowed_values",
            "supports_monitoring",
            "attributes",
            "updated_at",
        ]

    def get_address(self, variable: Variable) -> str:
        """The operator's notation (Component[instance]@evse:connector.Variable[instance]), or
        the key of a 1.6 configuration key."""
        from devicemodel.inventory import address_of

        return str(address_of(variable))


class ReportSerializer(serializers.ModelSerializer):
    missing_parts = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    station = serializers.CharField(source="station_id")

    class Meta:
        model = Report
        fields = [
            "id",
            "station",
            "request_id",
            "kind",
            "status",
            "criteria",
            "parts",
            "last_seq_no",
            "missing_parts",
            "entries",
            "unknown_keys",
            "requested_at",
            "generated_at",
            "completed_at",
        ]


class VariableChangeSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")
    requested_by = serializers.SerializerMethodField()

    class Meta:
        model = VariableChange
        fields = [
            "id",
            "station",
            "component",
            "variable_name",
            "attribute_type",
            "value",
            "status",
            "status_info",
            "requested_by",
            "source",
            "created_at",
            "answered_at",
        ]

    def get_requested_by(self, change: VariableChange) -> str | None:
        user: Any = change.requested_by
        return user.get_username() if user is not None else None
