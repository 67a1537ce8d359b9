"""Smart charging in the admin: view-only (profiles are set by commands, the rest reported)."""

from __future__ import annotations

from django.contrib import admin

from smartcharging.models import ChargingNeeds, ChargingProfile, CompositeSchedule, ExternalLimit
from stations.admin import ReadOnlyAdminMixin


@admin.register(ChargingProfile)
class ChargingProfileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["station", "profile_id", "evse_id", "purpose", "stack_level", "state", "origin"]
    list_filter = ["state", "purpose", "origin"]
    search_fields = ["station__id", "transaction_id"]


@admin.register(CompositeSchedule)
class CompositeScheduleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["asked_at", "station", "evse_id", "duration", "status"]


@admin.register(ExternalLimit)
class ExternalLimitAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["notified_at", "station", "evse_id", "source", "grid_critical", "cleared_at"]


@admin.register(ChargingNeeds)
class ChargingNeedsAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "notified_at",
        "station",
        "evse_id",
        "transfer_mode",
        "min_current_a",
        "max_current_a",
    ]
