from __future__ import annotations

from typing import Any

from rest_framework import serializers

from sites.api.views import cleaned
from stations.models import Transaction
from tariffs.models import SessionCost, Tariff, TariffAssignment
from tariffs.pricing import Cost, describe
from tariffs.services import current_cost


class TariffSerializer(serializers.ModelSerializer):
    shown_as = serializers.SerializerMethodField(
        help_text="What stations show drivers (display_text, or made from the prices)."
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = cleaned(self, Tariff(), data)
        if "currency" in data:
            data["currency"] = data["currency"].upper()
        return data

    def get_shown_as(self, tariff: Tariff) -> str:
        return tariff.display_text or describe(tariff.prices)

    class Meta:
        model = Tariff
        fields = [
            "id",
            "name",
            "currency",
            "session_fee",
            "energy_per_kwh",
            "time_per_hour",
            "idle_per_minute",
            "idle_grace_minutes",
            "vat_percent",
            "display_text",
            "shown_as",
            "is_default",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class TariffAssignmentSerializer(serializers.ModelSerializer):
    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        site = data.get("site", getattr(self.instance, "site", None))
        station = data.get("station", getattr(self.instance, "station", None))
        if (site is None) == (station is None):
            raise serializers.ValidationError("A tariff is assigned to a site or to a station.")
        return data

    class Meta:
        model = TariffAssignment
        fields = ["id", "tariff", "site", "station"]


def cost_json(cost: Cost, *, final: bool, row: SessionCost) -> dict[str, Any]:
    return {
        "currency": cost.currency,
        "total": str(cost.total),
        "net": str(cost.net),
        "vat": str(cost.vat),
        "session_fee": str(cost.session_fee),
        "energy": str(cost.energy),
        "time": str(cost.time),
        "idle": str(cost.idle),
        "final": final,
        "tariff": row.tariff_id,
        "prices": row.prices,
        "sent_total": str(row.sent_total) if row.sent_total is not None else None,
    }


def transaction_cost(tx: Transaction) -> dict[str, Any] | None:
    """The session's cost as REST shows it: final once it has ended, else so far. None when no
    tariff applied to it."""
    try:
        row = tx.cost  # type: ignore[attr-defined]  (the reverse one-to-one of SessionCost)
    except SessionCost.DoesNotExist:
        return None
    return cost_json(current_cost(tx, row), final=row.final, row=row)


class SessionCostSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="transaction.station_id", read_only=True)
    transaction_id = serializers.CharField(source="transaction.transaction_id", read_only=True)
    started_at = serializers.DateTimeField(source="transaction.started_at", read_only=True)
    stopped_at = serializers.DateTimeField(source="transaction.stopped_at", read_only=True)

    class Meta:
        model = SessionCost
        fields = [
            "transaction",
            "transaction_id",
            "station",
            "started_at",
            "stopped_at",
            "tariff",
            "currency",
            "energy_wh",
            "charging_seconds",
            "idle_seconds",
            "session_fee",
            "energy_cost",
            "time_cost",
            "idle_cost",
            "net",
            "vat",
            "total",
            "final",
            "computed_at",
            "sent_total",
            "sent_at",
            "prices",
        ]
        read_only_fields = fields
