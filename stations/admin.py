"""Django admin for operators.

Two rules shape everything here. First, what a station reports (boot data, status, meter values,
transactions, the message log) is a record of what happened, so the admin shows it but never lets
anyone edit it; operators only decide identity, password and registration status. Second, every
string a station sends is untrusted input: it is rendered through Django's autoescaping or
`format_html`, never through `mark_safe`, so a vendor name like `<script>` stays text.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from stations.models import (
    Connector,
    IdToken,
    MessageLog,
    MeterSample,
    Station,
    StationEvent,
    Transaction,
    TransactionEvent,
)
from stations.passwords import ALGORITHM, make_station_password, validate_station_password
from stations.remote import verdict
from stations.remote.catalog import (
    AVAILABILITY,
    RESET,
    TRIGGER,
    AvailabilityInput,
    CommandSpec,
    ResetInput,
    TriggerInput,
)
from stations.remote.delivery import Route
from stations.remote.operator import perform
from stations.remote.results import CommandRefused

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

FRAME_PREVIEW_CHARS = 120
# How a verdict's level shows as an admin message.
MESSAGE_LEVELS = {"ok": messages.SUCCESS, "warning": messages.WARNING, "error": messages.ERROR}


class ReadOnlyAdminMixin:
    """View-only access for records written by the protocol side.

    Dropping the change permission (rather than only listing fields as read-only) gives Django's
    "view" pages: no Save button, no POST handling, nothing to tamper with.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


# --- Stations -----------------------------------------------------------------------------------


class StationAdminForm(forms.ModelForm):
    """Takes a new password in clear and keeps only its salted hash.

    The field is write-only (never rendered back, not even after a validation error) because the
    plaintext must exist nowhere but in the station and in the operator's hands. Left empty on an
    existing station it means "keep the current password", so editing the registration status does
    not force re-keying the station.
    """

    password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "The Basic-auth password the station connects with (16 to 64 characters; 1.6 stations "
            "accept 16 to 20 bytes as AuthorizationKey). Only its hash is stored. Leave empty to "
            "keep the current password."
        ),
    )

    class Meta:
        model = Station
        fields = ["id", "registration_status", "security_profile"]

    def clean_security_profile(self) -> int:
        value = self.cleaned_data.get("security_profile")
        if value in (None, ""):
            return int(self.instance.security_profile)
        return int(value)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "security_profile" in self.fields:
            # Left out of a post, it stays what it was (a new station: its key, if it has one).
            self.fields["security_profile"].required = False
        if "password" in self.fields and self.instance._state.adding:
            # A new station gets a password from the start; a station with none is a deliberate
            # choice better made (and warned about) in `manage.py register_station`.
            self.fields["password"].required = True
            self.fields["password"].help_text = (
                "The Basic-auth password the station connects with (16 to 64 characters; 1.6 "
                "stations accept 16 to 20 bytes as AuthorizationKey). Only its hash is stored."
            )

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password") or ""
        if password:
            validate_station_password(password)
        return password

    def save(self, commit: bool = True) -> Station:
        password = self.cleaned_data.get("password")
        if password:
            self.instance.password_hash = make_station_password(password)
        return super().save(commit=commit)


class ConnectorInline(ReadOnlyTabularInline):
    model = Connector
    fields = readonly_fields = (
        "evse_id",
        "connector_id",
        "status",
        "error_code",
        "info",
        "status_at",
    )


# Tuples: a fieldset's "fields" takes these as they are (a list[str] would not type-check).
STATION_REPORTED_FIELDS = (
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
    "boot_reason",
    "boot_status",
    "last_boot_at",
    "last_heartbeat_at",
    "last_seen_at",
    "status",
    "error_code",
)
CONNECTION_FIELDS = (
    "connected",
    "protocol",
    "session",
    "channel_name",
    "connected_at",
    "disconnected_at",
    "remote_address",
)
SECURITY_FIELDS = (
    "password_summary",
    "failed_logins",
    "last_failed_login_at",
    "last_failed_login_address",
    "created_at",
)


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    form = StationAdminForm
    list_display = [
        "id",
        "protocol",
        "connected",
        "registration_status",
        "boot_status",
        "vendor",
        "model",
        "firmware_version",
        "last_boot_at",
        "last_heartbeat_at",
        "failed_logins",
    ]
    list_filter = [
        "connected",
        "protocol",
        "registration_status",
        "boot_status",
        "security_profile",
    ]
    search_fields = ["id", "vendor", "model", "serial_number"]
    readonly_fields = [*STATION_REPORTED_FIELDS, *CONNECTION_FIELDS, *SECURITY_FIELDS]
    fieldsets = [
        (
            "Identity & registration",
            {"fields": ["id", "password", "registration_status", "security_profile"]},
        ),
        ("Reported by the station", {"fields": STATION_REPORTED_FIELDS}),
        ("Connection", {"fields": CONNECTION_FIELDS}),
        ("Security", {"fields": SECURITY_FIELDS}),
    ]
    inlines = [ConnectorInline]
    actions = [
        "reset_stations",
        "hard_reset_stations",
        "make_stations_available",
        "make_stations_unavailable",
        "trigger_status",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Station | None = None) -> list[str]:
        """The identity is the primary key: editing it would silently create a second station
        and orphan the first one's history, so it is fixed once the station exists."""
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.insert(0, "id")
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Station | None = None) -> _FieldsetSpec:
        """On the add page only what an operator decides is shown: nothing has been reported
        yet, and empty read-only sections would only suggest otherwise."""
        if obj is None:
            return [self.fieldsets[0]]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Station | None) -> list:
        return self.inlines if obj is not None else []

    @admin.display(description="password")
    def password_summary(self, obj: Station) -> str:
        """Whether a password is set, without the hash: like Django's own user admin, the stored
        secret is not something to display, copy or screenshot."""
        if not obj.password_hash:
            return "None (Security Profile 0: the station connects without a password)"
        algorithm, _, rest = obj.password_hash.partition("$")
        if algorithm != ALGORITHM or not rest:
            return "Set, in an unknown format (the station cannot log in; set a new password)"
        return f"Set (salted {algorithm})"

    # Commands to the selected stations, from the declarations of `stations.remote.catalog`, like
    # the REST API and the dashboard: recorded (source "admin"), refused and judged the same way.

    @admin.action(permissions=["change"], description="Reset (soft) selected stations")
    def reset_stations(self, request: HttpRequest, queryset: QuerySet[Station]) -> None:
        self._send_to_stations(request, queryset, RESET, ResetInput(hard=False))

    @admin.action(permissions=["change"], description="Reset (hard) selected stations")
    def hard_reset_stations(
        self, request: HttpRequest, queryset: QuerySet[Station]
    ) -> TemplateResponse | None:
        """A hard reset interrupts every charging session at once: like Django's delete action,
        it first shows what it will do and runs only when that page is confirmed (`post=yes`)."""
        if request.POST.get("post") != "yes":
            return self._confirm_hard_reset(request, queryset)
        self._send_to_stations(request, queryset, RESET, ResetInput(hard=True))
        return None

    def _confirm_hard_reset(
        self, request: HttpRequest, queryset: QuerySet[Station]
    ) -> TemplateResponse:
        stations = list(queryset.order_by("pk"))
        charging = dict(
            Transaction.objects.filter(station__in=stations, is_active=True)
            .order_by()
            .values_list("station_id")
            .annotate(n=Count("pk"))
            .values_list("station_id", "n")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Hard reset: are you sure?",
            "subtitle": None,
            "opts": self.model._meta,
            "stations": [(station, charging.get(station.pk, 0)) for station in stations],
            "sessions": sum(charging.values()),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "hard_reset_stations",
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/stations/station/hard_reset_confirmation.html", context
        )

    @admin.action(permissions=["change"], description="Make selected stations available")
    def make_stations_available(self, request: HttpRequest, queryset: QuerySet[Station]) -> None:
        self._send_to_stations(request, queryset, AVAILABILITY, AvailabilityInput(operative=True))

    @admin.action(permissions=["change"], description="Make selected stations unavailable")
    def make_stations_unavailable(self, request: HttpRequest, queryset: QuerySet[Station]) -> None:
        self._send_to_stations(request, queryset, AVAILABILITY, AvailabilityInput(operative=False))

    @admin.action(
        permissions=["change"], description="Trigger a status report (StatusNotification)"
    )
    def trigger_status(self, request: HttpRequest, queryset: QuerySet[Station]) -> None:
        self._send_to_stations(request, queryset, TRIGGER, TriggerInput("StatusNotification"))

    def _send_to_stations(
        self,
        request: HttpRequest,
        queryset: QuerySet[Station],
        spec: CommandSpec[Any],
        value: Any,
    ) -> None:
        """Send one declared command to every selected station at once, then report each
        station's outcome as its own message.

        The stations are independent, so the commands run concurrently: the page waits for the
        slowest station (at most the call timeout), not for the sum of them.
        """
        routes = [
            Route(pk, protocol, channel if connected else "")
            for pk, protocol, connected, channel in queryset.order_by("pk").values_list(
                "pk", "protocol", "connected", "channel_name"
            )
        ]

        async def send(where: Route) -> verdict.Verdict:
            try:
                what, result = await perform(spec, value, where, user=request.user, source="admin")
            except CommandRefused as refused:
                return verdict.refused(where.station_id, spec.label, refused)
            return verdict.judge(result, where.station_id, what)

        async def send_all() -> list[verdict.Verdict]:
            return await asyncio.gather(*(send(where) for where in routes))

        for judged in async_to_sync(send_all)():
            # Plain strings: message_user escapes them, and the answers are station-supplied text.
            message = judged.message
            if judged.outcome == "refused":
                message = f"{judged.station_id}: {spec.label} not sent: {message}"
            self.message_user(request, message, MESSAGE_LEVELS[judged.level])


# --- Transactions -------------------------------------------------------------------------------


class MeterSampleInline(ReadOnlyTabularInline):
    model = MeterSample
    fields = readonly_fields = (
        "timestamp",
        "measurand",
        "phase",
        "unit",
        "context",
        "location",
        "value",
    )


class TransactionEventInline(ReadOnlyTabularInline):
    model = TransactionEvent
    fields = readonly_fields = ("seq_no", "event_type", "trigger_reason", "timestamp", "offline")


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    """Transactions are billing records reported by stations: viewable and (for cleaning up test
    data) deletable, never created or edited by hand."""

    list_display = [
        "id",
        "station",
        "evse_id",
        "connector_id",
        "ocpp_transaction_id",
        "id_token",
        "started_at",
        "stopped_at",
        "energy_wh",
        "is_active",
        "flag_reason",
    ]
    list_filter = ["is_active", "flag_reason", "station"]
    search_fields = ["station__id", "id_token", "ocpp_id"]
    list_select_related = ["station"]
    inlines = [TransactionEventInline, MeterSampleInline]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Transaction | None = None
    ) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Transaction | None = None) -> bool:
        return False

    @admin.display(description="OCPP id", ordering="ocpp_id")
    def ocpp_transaction_id(self, obj: Transaction) -> str:
        return obj.transaction_id


# --- ID tokens ----------------------------------------------------------------------------------


@admin.register(IdToken)
class IdTokenAdmin(admin.ModelAdmin):
    list_display = ["token", "type", "status", "expires_at", "parent", "user"]
    list_filter = ["status", "type"]
    search_fields = ["token"]
    list_select_related = ["parent", "user"]
    autocomplete_fields = ["parent", "user"]


# --- Logs ---------------------------------------------------------------------------------------


@admin.register(MessageLog)
class MessageLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The wire record of every frame: evidence, so nobody edits or deletes it here (retention
    is the housekeeping task's job)."""

    list_display = [
        "created_at",
        "station_id",
        "direction",
        "message_type",
        "action",
        "unique_id",
        "frame_preview",
    ]
    list_filter = ["direction", "message_type", "action"]
    search_fields = ["station_id", "unique_id", "action", "frame"]
    date_hierarchy = "created_at"
    list_per_page = 100
    # The log grows by millions of rows; an exact COUNT(*) on every filtered page is not worth it.
    show_full_result_count = False
    readonly_fields = [
        "created_at",
        "station_id",
        "direction",
        "message_type",
        "action",
        "unique_id",
        "frame",
    ]

    @admin.display(description="frame")
    def frame_preview(self, obj: MessageLog) -> str:
        """A fixed-width preview keeps the list readable whatever a station sends; the returned
        plain string is escaped by the template like any other value."""
        if len(obj.frame) <= FRAME_PREVIEW_CHARS:
            return obj.frame
        return obj.frame[:FRAME_PREVIEW_CHARS] + "…"


@admin.register(StationEvent)
class StationEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail (refused logins, takeovers, security events): read-only, like any audit log."""

    list_display = ["created_at", "station_id", "kind", "type", "message"]
    list_filter = ["kind", "type"]
    search_fields = ["station_id", "type", "message"]
    readonly_fields = ["created_at", "station_id", "kind", "type", "message", "data"]
