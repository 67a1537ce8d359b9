"""Display messages in the admin, view-only: they are set and cleared by commands."""

from __future__ import annotations

from django.contrib import admin

from displays.models import DisplayMessage
from stations.admin import ReadOnlyAdminMixin


@admin.register(DisplayMessage)
class DisplayMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["station", "message_id", "content", "priority", "state", "status", "active"]
    list_filter = ["priority", "state", "status", "active", "origin"]
    search_fields = ["station__id", "content"]
