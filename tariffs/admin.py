"""Tariffs in the admin: prices, where they apply (sites and stations inline), and each session's
cost, read-only (billing records)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from tariffs.models import SessionCost, Tariff, TariffAssignment


class AssignmentInline(admin.TabularInline):
    model = TariffAssignment
    extra = 0
    fields = ["site", "station"]
    autocomplete_fields = ["station"]


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "currency",
        "energy_per_kwh",
        "time_per_hour",
        "idle_per_minute",
        "session_fee",
        "vat_percent",
        "is_default",
    ]
    search_fields = ["name"]
    inlines = [AssignmentInline]


@admin.register(SessionCost)
class SessionCostAdmin(admin.ModelAdmin):
    list_display = ["transaction", "tariff", "total", "currency", "final", "sent_total", "sent_at"]
    list_filter = ["final", "currency", "tariff"]
    search_fields = ["transaction__station__id", "transaction__ocpp_id"]
    list_select_related = ["transaction", "tariff"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
