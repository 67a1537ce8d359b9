"""The device model in the admin: what stations reported and what operators changed, view-only
(values are changed by commands, from the dashboard's configuration page or REST, so that every
change is checked, sent and answered)."""

from __future__ import annotations

from django.contrib import admin

from devicemodel.models import Report, Variable, VariableAttribute, VariableChange
from stations.admin import ReadOnlyAdminMixin, ReadOnlyTabularInline


class AttributeInline(ReadOnlyTabularInline):
    model = VariableAttribute
    fields = ["type", "value", "mutability", "persistent", "constant", "reboot_required"]


@admin.register(Variable)
class VariableAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "station", "data_type", "unit", "min_limit", "max_limit"]
    list_filter = ["data_type", "attributes__mutability", "attributes__reboot_required"]
    search_fields = ["name", "instance", "component__name", "component__station__id"]
    list_select_related = ["component"]
    inlines = [AttributeInline]

    @admin.display(description="station", ordering="component__station_id")
    def station(self, variable: Variable) -> str:
        return variable.component.station_id


@admin.register(Report)
class ReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "station",
        "request_id",
        "kind",
        "status",
        "entries",
        "missing",
        "requested_at",
        "completed_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["station__id", "request_id"]

    @admin.display(description="missing parts")
    def missing(self, report: Report) -> str:
        return ", ".join(map(str, report.missing_parts))


@admin.register(VariableChange)
class VariableChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "station",
        "component",
        "variable_name",
        "attribute_type",
        "value",
        "status",
        "requested_by",
        "source",
    ]
    list_filter = ["status", "source"]
    search_fields = ["station__id", "component", "variable_name"]
