"""Serializers of the station API.

What a station reports is shown, never accepted: only the operator's own decisions (identity,
password, registration status) are writable. Secrets and connection internals (`password_hash`,
`channel_name`, `session`, `remote_address`) appear in no serializer at all, so no view can leak
them by picking the wrong one; the login counters are in the staff serializer only.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from stations.api.parts import transaction_parts
from stations.identity import MAX_IDENTITY_LENGTH, validate_identity
from stations.models import (
    Command,
    Connector,
    IdToken,
    MessageLog,
    MeterSample,
    Station,
    Transaction,
)
from stations.passwords import make_station_password, validate_station_password


class ErrorSerializer(serializers.Serializer):
    """The one error shape of `csms_site.api`, declared so the schema documents it."""

    error_code = serializers.IntegerField(help_text="The HTTP status, repeated.")
    message = serializers.CharField()
    # SerializerMetaclass moves declared fields off the class, so this does not shadow the
    # `errors` property at runtime; the stubs cannot model that.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages (validation failures only).",
    )


# --- Stations -----------------------------------------------------------------------------------


class ConnectedStationIdsSerializer(serializers.Serializer):
    """GET /api/cp_ids/, declared so the schema documents it."""

    cp_ids = serializers.ListField(
        child=serializers.CharField(), help_text="Identities of the connected stations, sorted."
    )


class ConnectorStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Connector
        fields = ["connector_id", "status", "error_code", "status_at"]
        read_only_fields = fields


class EvseSerializer(serializers.Serializer):
    """One EVSE and its connectors: the 2.0.1 shape, which a 1.6 connector N also has (EVSE N,
    connector 1), so clients read one structure whatever the station speaks."""

    evse_id = serializers.IntegerField(read_only=True)
    connectors = ConnectorStatusSerializer(many=True, read_only=True)


STATION_READ_FIELDS = [
    "id",
    "protocol",
    "connected",
    "registration_status",
    "vendor",
    "model",
    "firmware_version",
    "serial_number",
    "last_heartbeat_at",
    "last_seen_at",
    "status",
    "available",
    "evses",
]
STATION_STAFF_FIELDS = [
    "failed_logins",
    "last_failed_login_at",
    "connected_at",
    "disconnected_at",
    "last_boot_at",
    "boot_status",
]


class StationSerializer(serializers.ModelSerializer):
    """What any signed-in user (drivers included) may know about a station."""

    available = serializers.BooleanField(
        read_only=True,
        help_text="Connected, Accepted, and at least one connector is Available.",
    )
    evses = serializers.SerializerMethodField()

    class Meta:
        model = Station
        fields = STATION_READ_FIELDS
        read_only_fields = fields

    @extend_schema_field(EvseSerializer(many=True))
    def get_evses(self, station: Station) -> list[dict[str, Any]]:
        # Reads the prefetched connectors (ordered by EVSE, then connector): no query per station.
        groups = [
            {"evse_id": evse_id, "connectors": list(connectors)}
            for evse_id, connectors in groupby(station.connectors.all(), key=lambda c: c.evse_id)
        ]
        # What EvseSerializer(groups, many=True) builds, spelled out: the stubs type that call
        # as the single-object serializer.
        return serializers.ListSerializer(groups, child=EvseSerializer()).data


def _django_validator(validator):
    """Run a Django validator so its message lands under the field's key in `errors`."""

    def run(value: str) -> None:
        try:
            validator(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None

    return run


class StaffStationSerializer(StationSerializer):
    """The operator's view: also the login and boot history, and the writable decisions.

    The password is write-only and leaves this serializer only as a salted hash. Absent or empty
    on create means no password (Security Profile 0); absent or empty on an update keeps the
    current one, so changing the registration status never re-keys a station by accident.
    """

    id = serializers.CharField(
        max_length=MAX_IDENTITY_LENGTH,
        validators=[
            _django_validator(validate_identity),
            UniqueValidator(
                queryset=Station.objects.all(),
                message="A station with this identity already exists.",
            ),
        ],
        help_text="The station identity: the last segment of its URL and its Basic-auth username.",
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text=(
            "Basic-auth password (16 to 64 characters). Only its salted hash is stored. "
            "On create, absent or empty means no password; on update, it keeps the current one."
        ),
    )

    class Meta:
        model = Station
        fields = [*STATION_READ_FIELDS, *STATION_STAFF_FIELDS, "security_profile", "password"]
        read_only_fields = [
            f
            for f in [*STATION_READ_FIELDS, *STATION_STAFF_FIELDS]
            if f not in ("id", "registration_status")
        ]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None:
            # The identity is the station's URL and login name: renaming it is re-registering.
            fields["id"].read_only = True
        return fields

    def validate_password(self, value: str) -> str:
        if value:
            _django_validator(validate_station_password)(value)
        return value

    def create(self, validated_data: dict[str, Any]) -> Station:
        password = validated_data.pop("password", "")
        validated_data["password_hash"] = make_station_password(password) if password else ""
        return super().create(validated_data)

    def update(self, instance: Station, validated_data: dict[str, Any]) -> Station:
        password = validated_data.pop("password", "")
        if password:
            instance.password_hash = make_station_password(password)
        return super().update(instance, validated_data)


# --- Transactions -------------------------------------------------------------------------------


class MeterSampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = MeterSample
        fields = ["timestamp", "measurand", "phase", "unit", "context", "location", "value"]
        read_only_fields = fields


class TransactionSerializer(serializers.ModelSerializer):
    transaction_id = serializers.CharField(
        read_only=True,
        help_text="The id the station knows this transaction by (1.6: this row's id).",
    )

    def to_representation(self, instance: Transaction) -> dict[str, Any]:
        data = super().to_representation(instance)
        for part in transaction_parts():  # what other apps add (stations.api.parts)
            data[part.name] = part.render(instance)
        return data

    class Meta:
        model = Transaction
        fields = [
            "id",
            "transaction_id",
            "station",
            "evse_id",
            "connector_id",
            "id_token",
            "authorization_status",
            "started_at",
            "stopped_at",
            "meter_start_wh",
            "meter_stop_wh",
            "energy_wh",
            "is_active",
            "stop_reason",
            "charging_state",
            "reservation_id",
            "flagged_at",
            "flag_reason",
        ]
        read_only_fields = fields


class TransactionDetailSerializer(TransactionSerializer):
    samples = MeterSampleSerializer(many=True, read_only=True)

    class Meta(TransactionSerializer.Meta):
        fields = [*TransactionSerializer.Meta.fields, "samples"]
        read_only_fields = fields


# --- ID tokens ----------------------------------------------------------------------------------


class IdTokenSerializer(serializers.ModelSerializer):
    # A declared field, moved off the class by SerializerMetaclass: it does not replace
    # `Field.parent` (the enclosing serializer) at runtime; the stubs cannot model that.
    parent = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="token",
        queryset=IdToken.objects.all(),
        allow_null=True,
        required=False,
        help_text="The group token, by its token string.",
    )
    user = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(),
        allow_null=True,
        required=False,
        help_text="The driver this token belongs to; they see its transactions.",
    )

    class Meta:
        model = IdToken
        fields = ["id", "token", "type", "status", "expires_at", "parent", "user", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Authorization follows the parent chain; a loop would make a token its own group. Only
        # an existing token can close one (a new token has no members yet).
        if self.instance is None:
            return attrs
        ancestor, seen = attrs.get("parent"), set()
        while ancestor is not None and ancestor.pk not in seen:
            if ancestor.pk == self.instance.pk:
                raise serializers.ValidationError(
                    {"parent": ["A token cannot be its own group, directly or through others."]}
                )
            seen.add(ancestor.pk)
            ancestor = ancestor.parent
        return attrs


# --- Logs ---------------------------------------------------------------------------------------


class MessageLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageLog
        fields = ["created_at", "direction", "message_type", "action", "unique_id", "frame"]
        read_only_fields = fields


class CommandSerializer(serializers.ModelSerializer):
    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Who sent it; null for the system."
    )

    class Meta:
        model = Command
        fields = [
            "id",
            "station_id",
            "action",
            "payload",
            "requested_by",
            "source",
            "outcome",
            "response",
            "error_code",
            "description",
            "duration_ms",
            "created_at",
        ]
        read_only_fields = fields
