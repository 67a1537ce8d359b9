"""Sites in the admin: operators create sites, their circuits and place stations (the default
site holds every station not placed elsewhere)."""

from __future__ import annotations

from django.contrib import admin

from sites.models import Circuit, Placement, Site


class CircuitInline(admin.TabularInline):
    model = Circuit
    fk_name = "site"
    extra = 0
    fields = ["name", "parent", "limit_a", "limit_w", "phases", "voltage"]


class PlacementInline(admin.TabularInline):
    model = Placement
    extra = 0
    fields = ["station", "circuit", "priority"]
    autocomplete_fields = ["station"]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "country", "time_zone", "is_default"]
    search_fields = ["name", "city", "address"]
    inlines = [CircuitInline, PlacementInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is None or not obj.is_default


@admin.register(Circuit)
class CircuitAdmin(admin.ModelAdmin):
    list_display = ["__str__", "parent", "limit_a", "limit_w", "phases"]
    list_filter = ["site"]
