"""Where stations are (issue 18): sites — a location with its address, time zone and
coordinates — and, inside a site, a tree of circuits (a feeder, a sub-board) each with a current
or power limit, which the load allocator shares among the sessions under it.

Every station belongs to a site: a station without a `Placement` is in the default site (made by
the first migration), so the stations app needs to know nothing of sites.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from stations.models import Station

DEFAULT_SITE = "Default site"


class Site(models.Model):
    name = models.CharField(max_length=120, unique=True)
    address = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    time_zone = models.CharField(max_length=64, default="UTC")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    is_default = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_site"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError({"time_zone": f"Unknown time zone {self.time_zone!r}"}) from None
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            raise ValidationError({"latitude": "Between -90 and 90."})
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            raise ValidationError({"longitude": "Between -180 and 180."})


class Circuit(models.Model):
    """A part of a site's supply with a limit: the main connection, a feeder, a sub-board. Its
    limit holds for everything under it (its stations and its child circuits)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="circuits")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    name = models.CharField(max_length=120)
    limit_a = models.FloatField(null=True, blank=True, help_text="Per phase, in amperes.")
    limit_w = models.FloatField(null=True, blank=True, help_text="In watts, all phases.")
    phases = models.PositiveSmallIntegerField(default=3)
    voltage = models.FloatField(default=230.0, help_text="Phase to neutral.")

    class Meta:
        ordering = ["site_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="circuit_name_per_site")
        ]

    def __str__(self) -> str:
        return f"{self.site.name} / {self.name}"

    def clean(self) -> None:
        if self.limit_a is None and self.limit_w is None:
            raise ValidationError("A circuit has a current limit, a power limit, or both.")
        for value, name in ((self.limit_a, "limit_a"), (self.limit_w, "limit_w")):
            if value is not None and value <= 0:
                raise ValidationError({name: "A limit is positive."})
        if self.phases not in (1, 3):
            raise ValidationError({"phases": "1 or 3."})
        parent = self.parent
        seen = {self.pk}
        while parent is not None:
            if parent.site_id != self.site_id:
                raise ValidationError({"parent": "The parent circuit is on another site."})
            if parent.pk in seen:
                raise ValidationError({"parent": "A circuit cannot be inside itself."})
            seen.add(parent.pk)
            parent = parent.parent

    @property
    def limit_w_effective(self) -> float:
        """The tighter of its limits, in watts."""
        limits = [self.limit_w] if self.limit_w is not None else []
        if self.limit_a is not None:
            limits.append(self.limit_a * self.voltage * self.phases)
        return min(limits)


class Placement(models.Model):
    """Where one station is: its site and, optionally, the circuit that feeds it."""

    station = models.OneToOneField(
        Station, primary_key=True, on_delete=models.CASCADE, related_name="placement"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="placements")
    circuit = models.ForeignKey(
        Circuit, null=True, blank=True, on_delete=models.SET_NULL, related_name="placements"
    )
    priority = models.SmallIntegerField(default=0, help_text="Higher is served first.")

    def __str__(self) -> str:
        return f"{self.station_id} at {self.site}"

    def clean(self) -> None:
        if self.circuit is not None and self.circuit.site_id != self.site_id:
            raise ValidationError({"circuit": "The circuit is on another site."})
