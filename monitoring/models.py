"""What stations say about their own state (OCPP 2.0.1 block N): the monitors that watch their
variables, the events they notify, the alerts an operator must act on, and customer-information
requests (a driver's data, reported or cleared, for privacy requests).

Severity is OCPP's 0 (Danger) to 9 (Debug): lower is more severe. An event is an alert when its
severity is at or above the operator's threshold (OCPP_ALERT_SEVERITY, default 4 "Error"), i.e.
its number is at most the threshold; an event of a monitor the CSMS does not know has no severity,
and is an alert when it is the Alerting kind of trigger.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from stations.models import Station

SEVERITIES = [
    (0, "0 Danger"),
    (1, "1 Hardware failure"),
    (2, "2 System failure"),
    (3, "3 Critical"),
    (4, "4 Error"),
    (5, "5 Alert"),
    (6, "6 Warning"),
    (7, "7 Notice"),
    (8, "8 Informational"),
    (9, "9 Debug"),
]


class MonitorType(models.TextChoices):
    UPPER = "UpperThreshold"
    LOWER = "LowerThreshold"
    DELTA = "Delta"
    PERIODIC = "Periodic"
    CLOCK_ALIGNED = "PeriodicClockAligned"


class VariableMonitor(models.Model):
    class Origin(models.TextChoices):
        CSMS = "csms", "Set by the CSMS"
        STATION = "station", "Reported by the station"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="monitors")
    monitor_id = models.IntegerField(null=True, blank=True, help_text="The station's id for it.")
    component = models.CharField(max_length=120)
    variable = models.CharField(max_length=110)
    type = models.CharField(max_length=24, choices=MonitorType.choices)
    value = models.FloatField()
    severity = models.PositiveSmallIntegerField(choices=SEVERITIES)
    transaction = models.BooleanField(default=False, help_text="Only during a transaction.")
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.CSMS)
    status = models.CharField(max_length=24, blank=True, help_text="The station's answer.")
    status_info = models.CharField(max_length=600, blank=True)
    active = models.BooleanField(default=True)
    # The last monitoring report that listed it: a complete report of every monitor removes the
    # ones it did not list.
    reported_in = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["component", "variable", "monitor_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "monitor_id"],
                condition=models.Q(monitor_id__isnull=False),
                name="monitor_id_per_station",
            )
        ]

    def __str__(self) -> str:
        return f"{self.station_id} #{self.monitor_id} {self.component}.{self.variable} {self.type}"


class StationNotice(models.Model):
    """One event of a NotifyEvent (EventDataType)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="notices")
    event_id = models.IntegerField()
    timestamp = models.DateTimeField(help_text="Station's timestamp.")
    trigger = models.CharField(max_length=16)
    cause = models.IntegerField(null=True, blank=True)
    actual_value = models.CharField(max_length=2500)
    tech_code = models.CharField(max_length=50, blank=True)
    tech_info = models.CharField(max_length=500, blank=True)
    cleared = models.BooleanField(default=False)
    transaction_id = models.CharField(max_length=36, blank=True)
    monitor_id = models.IntegerField(null=True, blank=True)
    notification_type = models.CharField(max_length=24)
    component = models.CharField(max_length=120)
    variable = models.CharField(max_length=110)
    severity = models.PositiveSmallIntegerField(null=True, blank=True, choices=SEVERITIES)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "event_id", "timestamp"], name="notice_once")
        ]

    def __str__(self) -> str:
        return f"{self.station_id} {self.component}.{self.variable} = {self.actual_value}"


class Alert(models.Model):
    """A problem a station reported at or above the operator's severity, until it clears."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="alerts")
    component = models.CharField(max_length=120)
    variable = models.CharField(max_length=110)
    severity = models.PositiveSmallIntegerField(null=True, blank=True, choices=SEVERITIES)
    message = models.CharField(max_length=600)
    notice = models.ForeignKey(
        StationNotice, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True, db_index=True)
    cleared_by = models.CharField(max_length=150, blank=True, help_text="The station, or a user.")

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "component", "variable"],
                condition=models.Q(cleared_at__isnull=True),
                name="one_open_alert_per_variable",
            )
        ]

    def __str__(self) -> str:
        return f"{self.station_id}: {self.message}"

    @property
    def active(self) -> bool:
        return self.cleared_at is None


class CustomerRequest(models.Model):
    """A CustomerInformation request (N09/N10) and what the station reported."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="customer_requests")
    request_id = models.IntegerField()
    report = models.BooleanField()
    clear = models.BooleanField()
    customer = models.CharField(max_length=64, help_text="The identifier, ID token or hash data.")
    status = models.CharField(max_length=20, blank=True, help_text="The station's answer.")
    parts = models.JSONField(default=dict, blank=True, help_text="seqNo -> the part's data.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "request_id"], name="customer_per_request")
        ]

    def __str__(self) -> str:
        return f"{self.station_id} customer {self.customer} ({self.status})"

    @property
    def data(self) -> str:
        """What the station reported, its parts in order."""
        return "".join(self.parts[k] for k in sorted(self.parts, key=int))


class SecurityEvent(models.Model):
    """One SecurityEventNotification (OCPP 2.0.1 A04, 1.6 security whitepaper): the station's
    security log as it was notified. `critical` marks the types the specifications call critical
    (the station must queue them while offline); those the operator chose (OCPP_SECURITY_ALERTS)
    also raise an alert."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="security_events")
    type = models.CharField(max_length=50, db_index=True)
    timestamp = models.DateTimeField(help_text="Station's timestamp.")
    tech_info = models.CharField(max_length=255, blank=True)
    critical = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [
            # A notification resent after a lost answer is the same event: stored once.
            models.UniqueConstraint(
                fields=["station", "type", "timestamp"], name="security_event_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.station_id} {self.type} at {self.timestamp:%Y-%m-%d %H:%M:%S}"
