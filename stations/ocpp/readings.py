"""Wire payloads to domain values: the one place that knows each version's field names.

The `ocpp` library hands handlers snake_case dicts, validated against the version's JSON schema.
Each function here turns one of them into the typed value a service takes (stations.services),
with timestamps parsed and each absent optional field given its OCPP default, so services never
read an OCPP field name and both versions reach them in the same shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stations.clock import parse_required_ocpp_time
from stations.services.authorization import PresentedToken
from stations.services.meter_values import ENERGY_REGISTER, Sample
from stations.services.transactions import TransactionUpdate

Wire = dict[str, Any]


def samples_16(meter_values: Iterable[Wire]) -> list[Sample]:
    """1.6 MeterValue items: `value` is a string, kept only when it is a number (a SignedData or
    vendor string has nothing to total; the message log keeps it)."""
    samples: list[Sample] = []
    for item in meter_values:
        timestamp = parse_required_ocpp_time(item["timestamp"])
        for sampled in item["sampled_value"]:
            try:
                value = float(sampled["value"])
            except ValueError:
                continue
            samples.append(_sample(sampled, timestamp, value, sampled.get("unit", "Wh")))
    return samples


def samples_201(meter_values: Iterable[Wire]) -> list[Sample]:
    """2.0.1 MeterValueType items: `value` is a number scaled by unitOfMeasure's multiplier."""
    samples: list[Sample] = []
    for item in meter_values:
        timestamp = parse_required_ocpp_time(item["timestamp"])
        for sampled in item["sampled_value"]:
            measure = sampled.get("unit_of_measure") or {}
            value = float(sampled["value"]) * 10 ** measure.get("multiplier", 0)
            samples.append(_sample(sampled, timestamp, value, measure.get("unit", "Wh")))
    return samples


def _sample(sampled: Wire, timestamp: Any, value: float, unit: str) -> Sample:
    return Sample(
        timestamp=timestamp,
        value=value,
        measurand=sampled.get("measurand", ENERGY_REGISTER),
        phase=sampled.get("phase", ""),
        unit=unit,
        context=sampled.get("context", "Sample.Periodic"),
        location=sampled.get("location", "Outlet"),
    )


def token_201(id_token: Wire) -> PresentedToken:
    """A 2.0.1 IdTokenType (its additionalInfo is not used by the CSMS)."""
    return PresentedToken(id_token["id_token"], id_token.get("type", ""))


def transaction_update(fields: Wire) -> TransactionUpdate:
    """A TransactionEventRequest's fields (snake_case, as the handler receives them)."""
    info = fields["transaction_info"]
    evse = fields.get("evse") or {}
    id_token = fields.get("id_token")
    return TransactionUpdate(
        event_type=fields["event_type"],
        timestamp=parse_required_ocpp_time(fields["timestamp"]),
        trigger_reason=fields["trigger_reason"],
        seq_no=fields["seq_no"],
        transaction_id=info["transaction_id"],
        charging_state=info.get("charging_state"),
        remote_start_id=info.get("remote_start_id"),
        stopped_reason=info.get("stopped_reason"),
        offline=fields.get("offline", False),
        evse_id=evse.get("id"),
        connector_id=evse.get("connector_id"),
        id_token=token_201(id_token) if id_token else None,
        samples=samples_201(fields.get("meter_value") or ()),
        reservation_id=fields.get("reservation_id"),
    )
