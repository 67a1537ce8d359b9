"""What a session costs: a pure function of a tariff's prices and the session's usage, so that
the running cost (CostUpdated, I02), the final cost (TransactionEvent Ended's totalCost, I03), the
REST API and the exports all compute it one way.

The parts, each net of VAT: a session fee; energy per kWh; charging time per hour (time in the
state Charging, or the whole session where the station never reports a charging state); idle time
per minute beyond a grace period (connected, not charging, after charging had begun: see
stations.services.charging_time). VAT is added on the net sum; amounts are rounded half up to the
currency's minor unit once, on the total parts, never per sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# ISO 4217 currencies whose minor unit is not a hundredth (the common ones; the rest use 2).
MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "HUF": 2, "BHD": 3, "KWD": 3, "OMR": 3}


@dataclass(frozen=True)
class Prices:
    """A tariff's prices, as a session keeps them: the tariff in force when the session was
    first priced, whatever the operator changes later."""

    currency: str
    session_fee: Decimal = Decimal(0)
    energy_per_kwh: Decimal = Decimal(0)
    time_per_hour: Decimal = Decimal(0)
    idle_per_minute: Decimal = Decimal(0)
    idle_grace_minutes: int = 0
    vat_percent: Decimal = Decimal(0)

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prices:
        return cls(
            currency=str(data["currency"]),
            session_fee=Decimal(data.get("session_fee", "0")),
            energy_per_kwh=Decimal(data.get("energy_per_kwh", "0")),
            time_per_hour=Decimal(data.get("time_per_hour", "0")),
            idle_per_minute=Decimal(data.get("idle_per_minute", "0")),
            idle_grace_minutes=int(data.get("idle_grace_minutes", 0)),
            vat_percent=Decimal(data.get("vat_percent", "0")),
        )

    @property
    def is_free(self) -> bool:
        return not any(
            (self.session_fee, self.energy_per_kwh, self.time_per_hour, self.idle_per_minute)
        )


@dataclass(frozen=True)
class Usage:
    energy_wh: float
    charging_seconds: float
    idle_seconds: float


@dataclass(frozen=True)
class Cost:
    currency: str
    session_fee: Decimal
    energy: Decimal
    time: Decimal
    idle: Decimal
    net: Decimal
    vat: Decimal
    total: Decimal

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency.upper(), 2))


def price(prices: Prices, usage: Usage) -> Cost:
    step = quantum(prices.currency)

    def rounded(value: Decimal) -> Decimal:
        return value.quantize(step, rounding=ROUND_HALF_UP)

    energy = prices.energy_per_kwh * Decimal(str(max(0.0, usage.energy_wh))) / 1000
    time = prices.time_per_hour * Decimal(str(max(0.0, usage.charging_seconds))) / 3600
    idle_minutes = max(
        Decimal(0), Decimal(str(usage.idle_seconds)) / 60 - prices.idle_grace_minutes
    )
    idle = prices.idle_per_minute * idle_minutes
    fee, energy, time, idle = (rounded(v) for v in (prices.session_fee, energy, time, idle))
    net = fee + energy + time + idle
    vat = rounded(net * prices.vat_percent / 100)
    return Cost(
        prices.currency,
        session_fee=fee,
        energy=energy,
        time=time,
        idle=idle,
        net=net,
        vat=vat,
        total=net + vat,
    )


def _amount(value: Decimal, currency: str) -> str:
    """A unit price as the driver is charged it: at least the currency's minor units (1.20 EUR),
    more where the price has them (0.357 EUR/kWh), never more than four decimals."""
    exact = f"{value.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP).normalize():f}"
    decimals = len(exact.partition(".")[2])
    if decimals < MINOR_UNITS.get(currency.upper(), 2):
        exact = f"{value.quantize(quantum(currency), rounding=ROUND_HALF_UP):f}"
    return f"{exact} {currency}"


def describe(prices: Prices) -> str:
    """The tariff as a driver reads it on the station's screen (I01's personalMessage): the
    prices including VAT, the parts that apply."""
    if prices.is_free:
        return "Free charging"
    gross = 1 + prices.vat_percent / 100
    c = prices.currency
    parts = []
    if prices.energy_per_kwh:
        parts.append(f"{_amount(prices.energy_per_kwh * gross, c)}/kWh")
    if prices.time_per_hour:
        parts.append(f"{_amount(prices.time_per_hour * gross, c)}/h charging")
    if prices.session_fee:
        parts.append(f"{_amount(prices.session_fee * gross, c)} per session")
    if prices.idle_per_minute:
        grace = f" after {prices.idle_grace_minutes} min" if prices.idle_grace_minutes else ""
        parts.append(f"idle {_amount(prices.idle_per_minute * gross, c)}/min{grace}")
    return ", ".join(parts) + (" incl. VAT" if prices.vat_percent else "")
