"""Log requests in the admin: view-only (a log is asked for with the GetLog command)."""

from __future__ import annotations

from django.contrib import admin

from diagnostics.models import LogRequest
from stations.admin import ReadOnlyAdminMixin


@admin.register(LogRequest)
class LogRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "station", "kind", "request_id", "answer", "status", "size"]
    list_filter = ["kind", "status", "answer"]
    search_fields = ["station__id", "filename"]
    exclude = ["token_hash"]
