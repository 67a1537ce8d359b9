"""Meter values from either protocol version, normalised to one row per sampled value."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stations.clock import parse_required_ocpp_time
from stations.models import MeterSample
from stations.sql import BulkInsert

ENERGY_REGISTER = "Energy.Active.Import.Register"
_TO_WH = {"Wh": 1.0, "kWh": 1000.0}


@dataclass(frozen=True, slots=True)
class Sample:
    timestamp: datetime
    value: float
    measurand: str
    phase: str
    unit: str
    context: str
    location: str

    @property
    def energy_wh(self) -> float | None:
        """The reading in Wh when this is the imported-energy register, else None."""
        if self.measurand != ENERGY_REGISTER:
            return None
        factor = _TO_WH.get(self.unit)
        return None if factor is None else self.value * factor


def parse_meter_values(meter_values: Iterable[dict[str, Any]], version: str) -> list[Sample]:
    """Samples from snake_case `meter_value` items; absent optional fields get the OCPP defaults."""
    samples: list[Sample] = []
    for item in meter_values:
        timestamp = parse_required_ocpp_time(item["timestamp"])
        for sampled in item["sampled_value"]:
            if version == "1.6":
                try:
                    value = float(sampled["value"])
                except ValueError:
                    continue  # SignedData or a vendor string: nothing to total, kept in the log
                unit = sampled.get("unit", "Wh")
            else:
                measure = sampled.get("unit_of_measure") or {}
                value = float(sampled["value"]) * 10 ** measure.get("multiplier", 0)
                unit = measure.get("unit", "Wh")
            samples.append(
                Sample(
                    timestamp=timestamp,
                    value=value,
                    measurand=sampled.get("measurand", ENERGY_REGISTER),
                    phase=sampled.get("phase", ""),
                    unit=unit,
                    context=sampled.get("context", "Sample.Periodic"),
                    location=sampled.get("location", "Outlet"),
                )
            )
    return samples


def latest_energy_wh(samples: Iterable[Sample]) -> float | None:
    """The highest imported-energy register reading among the samples, in Wh."""
    readings = [wh for s in samples if (wh := s.energy_wh) is not None]
    return max(readings) if readings else None


def store_samples(
    samples: list[Sample],
    *,
    station_id: str,
    evse_id: int,
    connector_id: int,
    transaction_id: int | None,
) -> None:
    """One INSERT for all samples; a sample already stored (a resent message) is skipped."""
    _insert_samples.run(
        [
            (
                station_id,
                transaction_id,
                evse_id,
                connector_id,
                s.timestamp,
                s.measurand,
                s.phase,
                s.unit,
                s.context,
                s.location,
                s.value,
            )
            for s in samples
        ]
    )


_insert_samples = BulkInsert(
    MeterSample,
    [
        "station",
        "transaction",
        "evse_id",
        "connector_id",
        "timestamp",
        "measurand",
        "phase",
        "unit",
        "context",
        "location",
        "value",
    ],
    ignore_conflicts=True,
)
