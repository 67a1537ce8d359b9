"""Monitoring in the admin: what stations reported, view-only (monitors are set by commands)."""

from __future__ import annotations

from django.contrib import admin

from monitoring.models import Alert, CustomerRequest, SecurityEvent, StationNotice, VariableMonitor
from stations.admin import ReadOnlyAdminMixin


@admin.register(VariableMonitor)
class VariableMonitorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["station", "monitor_id", "component", "variable", "type", "value", "severity"]
    list_filter = ["type", "origin", "severity", "active"]
    search_fields = ["station__id", "component", "variable"]


@admin.register(StationNotice)
class StationNoticeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["timestamp", "station", "component", "variable", "actual_value", "trigger"]
    list_filter = ["trigger", "cleared", "severity", "notification_type"]
    search_fields = ["station__id", "component", "variable", "tech_info"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["raised_at", "station", "severity", "message", "cleared_at", "cleared_by"]
    list_filter = ["severity", ("cleared_at", admin.EmptyFieldListFilter)]
    search_fields = ["station__id", "message"]


@admin.register(CustomerRequest)
class CustomerRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "station", "customer", "report", "clear", "status"]
    search_fields = ["station__id", "customer"]


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["timestamp", "station", "type", "critical", "tech_info"]
    list_filter = ["critical", "type"]
    search_fields = ["station__id", "type", "tech_info"]
    date_hierarchy = "timestamp"
