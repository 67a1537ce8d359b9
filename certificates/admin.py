"""Certificates in the admin: view-only (they follow the stations' messages and the commands)."""

from __future__ import annotations

from django.contrib import admin

from certificates.models import InstalledCertificate, SigningRequest
from stations.admin import ReadOnlyAdminMixin


@admin.register(SigningRequest)
class SigningRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "station", "kind", "state", "not_after", "problem"]
    list_filter = ["kind", "state"]
    search_fields = ["station__id", "serial_number", "subject"]


@admin.register(InstalledCertificate)
class InstalledCertificateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["station", "certificate_type", "serial_number", "reported_at", "deleted_at"]
    list_filter = ["certificate_type", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["station__id", "serial_number"]
