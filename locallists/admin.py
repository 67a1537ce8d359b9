"""Local lists in the admin: operators compose the lists (every token, or chosen ones) and assign
them to stations; what each station holds and the history of updates are view-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from locallists import sync
from locallists.models import AuthorizationList, ListEntry, ListUpdate, StationList
from stations.admin import ReadOnlyAdminMixin, ReadOnlyTabularInline


@admin.register(AuthorizationList)
class AuthorizationListAdmin(admin.ModelAdmin):
    list_display = ["name", "all_tokens", "token_count", "station_count", "updated_at"]
    filter_horizontal = ["tokens"]
    search_fields = ["name"]

    @admin.display(description="tokens")
    def token_count(self, chosen: AuthorizationList) -> str:
        return "all" if chosen.all_tokens else str(chosen.tokens.count())

    @admin.display(description="stations")
    def station_count(self, chosen: AuthorizationList) -> int:
        return chosen.stations.count()


class EntryInline(ReadOnlyTabularInline):
    model = ListEntry
    fields = ["token", "token_type", "status", "expires_at", "group_token"]


@admin.register(StationList)
class StationListAdmin(admin.ModelAdmin):
    """Which list a station holds is the operator's to choose; the rest is what the station
    confirmed."""

    list_display = ["station", "list", "state", "version", "station_version", "synced_at"]
    list_filter = ["state", "list"]
    search_fields = ["station__id"]
    fields = ["station", "list", "state", "version", "station_version", "needs_full", "detail"]
    readonly_fields = ["state", "version", "station_version", "needs_full", "detail"]
    inlines = [EntryInline]
    actions = ["mark_full"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: StationList | None = None
    ) -> list[str]:
        fields = list(self.readonly_fields)
        return [*fields, "station"] if obj is not None else fields

    def save_model(
        self, request: HttpRequest, obj: StationList, form: object, change: bool
    ) -> None:
        sync.assign(obj.station_id, obj.list)

    @admin.action(description="Send the full list at the next update")
    def mark_full(self, request: HttpRequest, queryset: QuerySet[StationList]) -> None:
        updated = queryset.update(needs_full=True, state=StationList.State.OUTDATED)
        self.message_user(request, f"{updated} lists get a Full update next")


@admin.register(ListUpdate)
class ListUpdateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "station",
        "version",
        "update_type",
        "added",
        "removed",
        "status",
        "requested_by",
        "source",
    ]
    list_filter = ["status", "update_type", "source"]
    search_fields = ["station__id"]
