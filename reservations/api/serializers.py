from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from rest_framework import serializers

from reservations.models import Reservation
from reservations.services import ReservationRequest
from stations.clock import utcnow
from stations.models import IdToken


class ReservationSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True, default=None)
    transaction = serializers.IntegerField(source="transaction_id", read_only=True)

    class Meta:
        model = Reservation
        fields = [
            "id",
            "station",
            "evse_id",
            "connector_id",
            "id_token",
            "expires_at",
            "status",
            "user",
            "transaction",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ReservationRequestSerializer(serializers.Serializer):
    """What a driver asks for. Only `id_token` is required; the CSMS picks the rest."""

    station = serializers.CharField(required=False, max_length=48)
    evse_id = serializers.IntegerField(required=False, min_value=1)
    connector_id = serializers.IntegerField(required=False, min_value=1)
    id_token = serializers.CharField(max_length=36)
    expiry = serializers.DateTimeField(required=False)
    id = serializers.IntegerField(
        required=False, min_value=1, help_text="Re-reserve: replaces this active reservation."
    )

    def validate_expiry(self, value):
        if value <= utcnow():
            raise serializers.ValidationError("The expiry must be in the future.")
        return value

    def validate_id_token(self, value: str) -> str:
        """A driver reserves with one of their own ID tokens; operators with any."""
        user = self.context["request"].user
        if not user.is_staff and not IdToken.objects.filter(token=value, user=user).exists():
            raise serializers.ValidationError("This ID token is not one of yours.")
        return value

    def to_request(self) -> ReservationRequest:
        data = self.validated_data
        return ReservationRequest(
            id_token=data["id_token"],
            expires_at=data.get("expiry")
            or utcnow() + timedelta(minutes=settings.OCPP_RESERVATION_MINUTES),
            station_id=data.get("station"),
            evse_id=data.get("evse_id"),
            connector_id=data.get("connector_id"),
            reservation_id=data.get("id"),
        )
