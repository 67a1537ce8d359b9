"""Tariffs (OCPP 2.0.1 block I): what a session costs where, and what each session cost.

A tariff applies to a station, else to the station's site, else the network's default tariff;
without any, the CSMS does not know the cost and says none (TransactionEvent Ended then carries
no totalCost, which OCPP reads as "not free"). A session keeps the prices of the tariff in force
when it was first priced (`SessionCost.prices`), so an operator's change applies to new sessions,
never to one under way.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from sites.models import Site
from stations.models import Station, Transaction
from tariffs.pricing import Prices

ZERO = MinValueValidator(Decimal(0))


class Tariff(models.Model):
    name = models.CharField(max_length=120, unique=True)
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217, e.g. EUR.")
    session_fee = models.DecimalField(max_digits=10, decimal_places=4, default=0, validators=[ZERO])
    energy_per_kwh = models.DecimalField(
        "energy price per kWh", max_digits=10, decimal_places=4, default=0, validators=[ZERO]
    )
    time_per_hour = models.DecimalField(
        "charging time price per hour",
        max_digits=10,
        decimal_places=4,
        default=0,
        validators=[ZERO],
    )
    idle_per_minute = models.DecimalField(
        "idle fee per minute",
        max_digits=10,
        decimal_places=4,
        default=0,
        validators=[ZERO],
        help_text="Connected and not charging, once charging had begun (the EV is full).",
    )
    idle_grace_minutes = models.PositiveIntegerField(default=0)
    vat_percent = models.DecimalField(
        "VAT %", max_digits=5, decimal_places=2, default=0, validators=[ZERO]
    )
    display_text = models.CharField(
        max_length=512,
        blank=True,
        help_text="What the station shows the driver (I01). Empty: made from the prices.",
    )
    is_default = models.BooleanField(
        default=False, help_text="The network's tariff, where a station and its site have none."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_tariff",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise ValidationError({"currency": "Three letters (ISO 4217), e.g. EUR."})
        self.currency = self.currency.upper()
        if self.vat_percent is not None and self.vat_percent > 100:
            raise ValidationError({"vat_percent": "At most 100."})

    @property
    def prices(self) -> Prices:
        return Prices(
            currency=self.currency,
            session_fee=Decimal(self.session_fee),
            energy_per_kwh=Decimal(self.energy_per_kwh),
            time_per_hour=Decimal(self.time_per_hour),
            idle_per_minute=Decimal(self.idle_per_minute),
            idle_grace_minutes=self.idle_grace_minutes,
            vat_percent=Decimal(self.vat_percent),
        )


class TariffAssignment(models.Model):
    """A tariff for one site or one station (a station's own outranks its site's)."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="assignments")
    site = models.OneToOneField(
        Site, null=True, blank=True, on_delete=models.CASCADE, related_name="tariff_assignment"
    )
    station = models.OneToOneField(
        Station, null=True, blank=True, on_delete=models.CASCADE, related_name="tariff_assignment"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(site__isnull=True) ^ models.Q(station__isnull=True)),
                name="tariff_for_a_site_or_a_station",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tariff} for {self.station_id or self.site}"

    def clean(self) -> None:
        if (self.site_id is None) == (self.station_id is None):
            raise ValidationError("A tariff is assigned to a site or to a station, one of them.")


class SessionCost(models.Model):
    """What one session cost (or costs so far): its prices, the usage they were applied to, the
    parts, and what the station was last told (CostUpdated)."""

    transaction = models.OneToOneField(
        Transaction, primary_key=True, on_delete=models.CASCADE, related_name="cost"
    )
    tariff = models.ForeignKey(
        Tariff, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    prices = models.JSONField(help_text="The tariff's prices when the session was first priced.")
    currency = models.CharField(max_length=3)
    energy_wh = models.FloatField(default=0)
    charging_seconds = models.FloatField(default=0)
    idle_seconds = models.FloatField(default=0)
    session_fee = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    energy_cost = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    time_cost = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    idle_cost = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    net = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    vat = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    final = models.BooleanField(default=False, help_text="The session has ended: this is its cost.")
    computed_at = models.DateTimeField(null=True, blank=True)
    sent_total = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="The running cost the station last accepted (CostUpdated).",
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["final"], name="session_cost_final_idx")]

    def __str__(self) -> str:
        return f"{self.total} {self.currency}"
