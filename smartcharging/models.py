"""Smart charging as the CSMS knows it per station (OCPP 2.0.1 block K, 1.6 Smart Charging): the
charging profiles it set or the station reported, the composite schedules it asked for, the
limits external systems put on the station (NotifyChargingLimit) and the EV's charging needs
(ISO 15118 NotifyEVChargingNeeds / NotifyEVChargingSchedule)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from stations.models import Station


class ChargingProfile(models.Model):
    """A profile on a station, keyed by its id there (a profile set again with the same id
    replaces the one installed). `profile` is the 2.0.1 wire shape (camelCase), whatever the
    version."""

    class Origin(models.TextChoices):
        CSMS = "csms", "Set by the CSMS"
        STATION = "station", "Reported by the station"

    class State(models.TextChoices):
        SENT = "sent", "Sent, not answered"
        ACTIVE = "active", "Installed"
        REJECTED = "rejected", "Rejected by the station"
        CLEARED = "cleared", "Cleared"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="charging_profiles")
    profile_id = models.IntegerField()
    evse_id = models.IntegerField(default=0)
    stack_level = models.IntegerField()
    purpose = models.CharField(max_length=40)
    kind = models.CharField(max_length=10)
    recurrency = models.CharField(max_length=8, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    transaction_id = models.CharField(max_length=36, blank=True)
    profile = models.JSONField()
    origin = models.CharField(max_length=8, choices=Origin.choices)
    state = models.CharField(max_length=8, choices=State.choices)
    status_info = models.CharField(max_length=600, blank=True)
    limit_source = models.CharField(max_length=8, blank=True, help_text="EMS, Other, SO, CSO.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["station_id", "evse_id", "purpose", "-stack_level"]
        constraints = [
            models.UniqueConstraint(fields=["station", "profile_id"], name="profile_per_station")
        ]

    def __str__(self) -> str:
        return f"{self.station_id} #{self.profile_id} {self.purpose} L{self.stack_level} ({self.state})"


class CompositeSchedule(models.Model):
    """A GetCompositeSchedule and the station's answer: the limits it will apply over a period."""

    station = models.ForeignKey(
        Station, on_delete=models.CASCADE, related_name="composite_schedules"
    )
    evse_id = models.IntegerField()
    duration = models.IntegerField()
    unit = models.CharField(max_length=2, blank=True)
    status = models.CharField(max_length=12, blank=True)
    schedule = models.JSONField(
        null=True, blank=True, help_text="The schedule as the station sent it."
    )
    asked_at = models.DateTimeField(auto_now_add=True, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-asked_at", "-id"]

    def __str__(self) -> str:
        return f"{self.station_id} EVSE {self.evse_id} for {self.duration} s ({self.status})"


class ExternalLimit(models.Model):
    """A limit an external system (an EMS, the grid operator) set on the station, as it notified
    it (NotifyChargingLimit), until it notifies it cleared (ClearedChargingLimit)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="external_limits")
    evse_id = models.IntegerField(null=True, blank=True)
    source = models.CharField(max_length=8)
    grid_critical = models.BooleanField(null=True, blank=True)
    schedules = models.JSONField(default=list, blank=True)
    notified_at = models.DateTimeField(auto_now_add=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-notified_at", "-id"]

    def __str__(self) -> str:
        return f"{self.station_id} {self.source} limit"


class ChargingNeeds(models.Model):
    """What an EV told the station it needs (ISO 15118, NotifyEVChargingNeeds), and the schedule
    it then chose (NotifyEVChargingSchedule)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="charging_needs")
    evse_id = models.IntegerField()
    transfer_mode = models.CharField(max_length=16)
    departure_time = models.DateTimeField(null=True, blank=True)
    energy_amount_wh = models.FloatField(null=True, blank=True)
    min_current_a = models.FloatField(null=True, blank=True)
    max_current_a = models.FloatField(null=True, blank=True)
    max_power_w = models.FloatField(null=True, blank=True)
    needs = models.JSONField(help_text="As the station sent them.")
    ev_schedule = models.JSONField(null=True, blank=True, help_text="NotifyEVChargingSchedule's.")
    notified_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-notified_at", "-id"]

    def __str__(self) -> str:
        return f"{self.station_id} EVSE {self.evse_id} needs ({self.transfer_mode})"
