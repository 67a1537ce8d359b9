"""Reservations of a connector (1.6) or EVSE (2.0.1) for one ID token until an expiry time.

The row's primary key is the OCPP reservation id (1.6 reservationId, 2.0.1 id).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Reservation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        OCCUPIED = "occupied"
        FAULTED = "faulted"
        UNAVAILABLE = "unavailable"
        NO_RESPONSE = "no_response", "no response"
        CANCELLED = "cancelled"
        EXPIRED = "expired"
        REMOVED = "removed"
        USED = "used"

    ACTIVE = (Status.PENDING, Status.ACCEPTED)

    station = models.ForeignKey(
        "stations.Station", on_delete=models.CASCADE, related_name="reservations"
    )
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    connector_id = models.PositiveIntegerField(null=True, blank=True)
    id_token = models.CharField(max_length=36)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reservations",
    )
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    transaction = models.ForeignKey(
        "stations.Transaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reservations",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "expires_at"], name="reservation_due_idx")]

    def __str__(self) -> str:
        return f"Reservation {self.pk} on {self.station_id}"
