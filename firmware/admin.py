"""Firmware in the admin: images, updates and campaigns, view-only (they are created and moved
on from the dashboard and REST, through the services that keep them consistent)."""

from __future__ import annotations

from django.contrib import admin

from firmware.models import Campaign, FirmwareImage, FirmwareUpdate, Publication
from stations.admin import ReadOnlyAdminMixin


@admin.register(FirmwareImage)
class FirmwareImageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "version", "vendor", "model", "size", "signed", "created_at"]
    search_fields = ["name", "version", "sha256"]

    @admin.display(boolean=True)
    def signed(self, image: FirmwareImage) -> bool:
        return image.signed


@admin.register(FirmwareUpdate)
class FirmwareUpdateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "station", "image", "campaign", "status", "outcome", "problem"]
    list_filter = ["outcome", "canary"]
    search_fields = ["station__id"]
    exclude = ["token_hash"]


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "image", "state", "stage", "paused_reason", "created_at"]
    list_filter = ["state", "stage"]


@admin.register(Publication)
class PublicationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "station", "checksum", "status", "unpublished"]
