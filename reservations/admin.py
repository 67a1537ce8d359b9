"""Django admin for reservations.

A reservation lives on the station too (ReserveNow / CancelReservation); a row edited here changes
only the CSMS's record of it, not what the station holds. Stations and users are picked by
autocomplete because a network has far too many of either for a drop-down.
"""

from __future__ import annotations

from django.contrib import admin

from reservations.models import Reservation


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "station",
        "evse_id",
        "connector_id",
        "id_token",
        "user",
        "expires_at",
        "status",
    ]
    list_filter = ["status"]
    search_fields = ["station__id", "id_token"]
    list_select_related = ["station", "user"]
    autocomplete_fields = ["station", "user"]
    raw_id_fields = ["transaction"]
    readonly_fields = ["created_at", "updated_at"]
