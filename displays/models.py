"""Messages on stations' displays (OCPP 2.0.1 block O): what the CSMS asked a station to show,
and what the station reports it shows."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from stations.models import Station


class Priority(models.TextChoices):
    ALWAYS_FRONT = "AlwaysFront"
    IN_FRONT = "InFront"
    NORMAL_CYCLE = "NormalCycle"


class MessageState(models.TextChoices):
    ANY = "", "In any state"
    CHARGING = "Charging"
    FAULTED = "Faulted"
    IDLE = "Idle"
    UNAVAILABLE = "Unavailable"


class MessageFormat(models.TextChoices):
    ASCII = "ASCII"
    HTML = "HTML"
    URI = "URI"
    UTF8 = "UTF8"


class DisplayMessage(models.Model):
    class Origin(models.TextChoices):
        CSMS = "csms", "Set by the CSMS"
        STATION = "station", "Reported by the station"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="display_messages")
    message_id = models.PositiveIntegerField(help_text="The message's id on the station.")
    priority = models.CharField(max_length=12, choices=Priority.choices)
    state = models.CharField(max_length=12, choices=MessageState.choices, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    transaction_id = models.CharField(max_length=36, blank=True)
    format = models.CharField(max_length=5, choices=MessageFormat.choices, default="UTF8")
    language = models.CharField(max_length=8, blank=True)
    content = models.CharField(max_length=512)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.CSMS)
    status = models.CharField(max_length=28, blank=True, help_text="The station's answer.")
    status_info = models.CharField(max_length=600, blank=True)
    active = models.BooleanField(default=True, help_text="On the station, as far as it said.")
    reported_in = models.IntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["station", "message_id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "message_id"], name="message_id_per_station")
        ]

    def __str__(self) -> str:
        return f"{self.station_id} #{self.message_id}: {self.content[:40]}"
