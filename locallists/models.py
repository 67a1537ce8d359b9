"""Local authorization lists: the ID tokens the CSMS wants on each station, and what each station
holds as far as the CSMS knows (OCPP 2.0.1 block D, 1.6 Local Auth List Management).

An `AuthorizationList` is the operator's list (every ID token, or chosen ones), shared by any
number of stations. Each station's `StationList` says which list it should hold and records what
the station confirmed: the version of its last accepted update and, entry by entry, the tokens it
was sent (`ListEntry`). The difference between the two is what the next update sends.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from stations.models import IdToken, Station


class AuthorizationList(models.Model):
    name = models.CharField(max_length=100, unique=True)
    all_tokens = models.BooleanField(
        default=False, help_text="Every ID token the CSMS knows, whatever its status."
    )
    tokens = models.ManyToManyField(IdToken, blank=True, related_name="authorization_lists")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "local authorization list"

    def __str__(self) -> str:
        return self.name


class StationList(models.Model):
    class State(models.TextChoices):
        CURRENT = "current", "Current"
        OUTDATED = "outdated", "Outdated (an update is due)"
        FAILED = "failed", "Failed (the station refused the update)"
        TOO_LARGE = "too_large", "Too large for the station"
        NOT_SUPPORTED = "not_supported", "Not supported by the station"

    station = models.OneToOneField(
        Station, primary_key=True, on_delete=models.CASCADE, related_name="local_list"
    )
    list = models.ForeignKey(
        AuthorizationList,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="stations",
        help_text="None: the station should hold no list (an empty one is sent).",
    )
    version = models.PositiveIntegerField(
        default=0, help_text="The version of the last update the station accepted (0: none)."
    )
    station_version = models.IntegerField(
        null=True,
        blank=True,
        help_text="What GetLocalListVersion last answered (0: no list, 1.6 -1: not supported).",
    )
    needs_full = models.BooleanField(
        default=True, help_text="The station's list is not known to match: a Full update is due."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.OUTDATED)
    detail = models.CharField(max_length=300, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "station's local list"

    def __str__(self) -> str:
        return f"{self.station_id}: {self.get_state_display()} (v{self.version})"


class ListEntry(models.Model):
    """A token as the station holds it: what the CSMS last sent it and it accepted."""

    station_list = models.ForeignKey(StationList, on_delete=models.CASCADE, related_name="entries")
    token = models.CharField(max_length=36)
    token_type = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=16)
    expires_at = models.DateTimeField(null=True, blank=True)
    group_token = models.CharField(max_length=36, blank=True)

    class Meta:
        ordering = ["token"]
        constraints = [
            models.UniqueConstraint(fields=["station_list", "token"], name="entry_per_token")
        ]

    def __str__(self) -> str:
        return f"{self.token} ({self.status})"


class ListUpdate(models.Model):
    """One SendLocalList and its answer: the list's history."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="list_updates")
    version = models.IntegerField()
    update_type = models.CharField(max_length=12)
    added = models.PositiveIntegerField(default=0, help_text="Entries added or changed.")
    removed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, help_text="The answer, or how it was not delivered.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, default="api")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.station_id} v{self.version} {self.update_type}: {self.status}"
