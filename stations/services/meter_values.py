"""Meter values from either protocol version, normalised to one row per sampled value.

The handlers turn each version's sampledValue items into `Sample`s (stations.ocpp.readings)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def latest_energy_wh(samples: Iterable[Sample]) -> float | None:
    """The highest imported-energy register reading among the samples, in Wh."""
    readings = [wh for s in samples if (wh := s.energy_wh) is not None]
    return max(readings) if readings else None


def store_samples(
    samples: Sequence[Sample],
    *,
    station_id: str,
    evse_id: int,
    connector_id: int,
    transaction_id: int | None,
) -> None:
    """One INSERT for all samples; a sample already stored (a resent message) is skipped."""
    insert_sample_rows(sample_rows(samples, station_id, evse_id, connector_id, transaction_id))


SampleRow = tuple[Any, ...]


def sample_rows(
    samples: Sequence[Sample],
    station_id: str,
    evse_id: int,
    connector_id: int,
    transaction_id: int | None,
) -> list[SampleRow]:
    """The rows of `samples` as `insert_sample_rows` takes them (the samples of many messages
    can then go in one INSERT)."""
    return [
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


def insert_sample_rows(rows: Sequence[SampleRow]) -> None:
    _insert_samples.run(rows)


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
