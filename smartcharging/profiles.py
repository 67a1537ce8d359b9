"""Charging profiles as the CSMS's domain holds them, one shape for both versions, and the rules
they must keep before one is sent (OCPP 2.0.1 Part 2 K01; 1.6 §3.13 Smart Charging).

A 2.0.1 profile has one to three schedules; a 1.6 profile has exactly one (`csChargingProfiles`,
`chargingProfileId`, purposes ChargePointMaxProfile / TxDefaultProfile / TxProfile). `Profile`
reads either wire shape and writes either; `problems` lists every rule a profile breaks, so an
operator sees them all at once, against what the station reported of its limits (stack levels,
periods per schedule, rate units).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stations.clock import ocpp_time, parse_ocpp_time

MAX_PROFILE = "ChargingStationMaxProfile"
DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
EXTERNAL = "ChargingStationExternalConstraints"
PURPOSES_201 = (MAX_PROFILE, DEFAULT, TX, EXTERNAL)
PURPOSES_16 = {"ChargePointMaxProfile": MAX_PROFILE, DEFAULT: DEFAULT, TX: TX}
TO_16 = {v: k for k, v in PURPOSES_16.items()}
KINDS = ("Absolute", "Recurring", "Relative")
RECURRENCIES = ("Daily", "Weekly")
UNITS = ("A", "W")


@dataclass(frozen=True)
class Period:
    start: int  # seconds from the schedule's start
    limit: float
    phases: int | None = None
    phase_to_use: int | None = None


@dataclass(frozen=True)
class Schedule:
    id: int
    unit: str  # "A" or "W"
    periods: tuple[Period, ...]
    start: datetime | None = None
    duration: int | None = None
    min_rate: float | None = None


@dataclass(frozen=True)
class Profile:
    id: int
    stack_level: int
    purpose: str  # 2.0.1's names (1.6's ChargePointMaxProfile is MAX_PROFILE)
    kind: str
    schedules: tuple[Schedule, ...]
    evse_id: int = 0
    recurrency: str = ""
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    # --- from and to the wire -------------------------------------------------------------------

    @classmethod
    def from_201(cls, evse_id: int, profile: dict[str, Any]) -> Profile:
        return cls(
            int(profile["id"]),
            int(profile["stackLevel"]),
            str(profile["chargingProfilePurpose"]),
            str(profile["chargingProfileKind"]),
            tuple(_schedule(s, int(s.get("id", 0))) for s in profile.get("chargingSchedule") or ()),
            evse_id,
            str(profile.get("recurrencyKind") or ""),
            parse_ocpp_time(profile.get("validFrom")),
            parse_ocpp_time(profile.get("validTo")),
            str(profile.get("transactionId") or ""),
        )

    @classmethod
    def from_16(cls, connector_id: int, profile: dict[str, Any]) -> Profile:
        purpose = str(profile["chargingProfilePurpose"])
        return cls(
            int(profile["chargingProfileId"]),
            int(profile["stackLevel"]),
            PURPOSES_16.get(purpose, purpose),
            str(profile["chargingProfileKind"]),
            (_schedule(profile["chargingSchedule"], 0),) if profile.get("chargingSchedule") else (),
            connector_id,
            str(profile.get("recurrencyKind") or ""),
            parse_ocpp_time(profile.get("validFrom")),
            parse_ocpp_time(profile.get("validTo")),
            str(profile.get("transactionId") or ""),
        )

    @classmethod
    def from_wire(cls, protocol: str, payload: dict[str, Any]) -> Profile:
        """A SetChargingProfile payload of `protocol`."""
        if protocol == "1.6":
            return cls.from_16(int(payload["connectorId"]), payload["csChargingProfiles"])
        return cls.from_201(int(payload["evseId"]), payload["chargingProfile"])

    def wire_201(self) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "id": self.id,
            "stackLevel": self.stack_level,
            "chargingProfilePurpose": self.purpose,
            "chargingProfileKind": self.kind,
            "chargingSchedule": [_schedule_wire(s, with_id=True) for s in self.schedules],
        }
        if self.recurrency:
            profile["recurrencyKind"] = self.recurrency
        if self.valid_from:
            profile["validFrom"] = ocpp_time(self.valid_from)
        if self.valid_to:
            profile["validTo"] = ocpp_time(self.valid_to)
        if self.transaction_id:
            profile["transactionId"] = self.transaction_id
        return profile

    def wire_16(self) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "chargingProfileId": self.id,
            "stackLevel": self.stack_level,
            "chargingProfilePurpose": TO_16.get(self.purpose, self.purpose),
            "chargingProfileKind": self.kind,
        }
        if self.schedules:
            profile["chargingSchedule"] = _schedule_wire(self.schedules[0], with_id=False)
        if self.recurrency:
            profile["recurrencyKind"] = self.recurrency
        if self.valid_from:
            profile["validFrom"] = ocpp_time(self.valid_from)
        if self.valid_to:
            profile["validTo"] = ocpp_time(self.valid_to)
        if self.transaction_id:
            profile["transactionId"] = int(self.transaction_id)
        return profile

    def payload(self, protocol: str) -> dict[str, Any]:
        """SetChargingProfile's payload for a station of `protocol`."""
        if protocol == "1.6":
            return {"connectorId": self.evse_id, "csChargingProfiles": self.wire_16()}
        return {"evseId": self.evse_id, "chargingProfile": self.wire_201()}


def _schedule(data: dict[str, Any], schedule_id: int) -> Schedule:
    return Schedule(
        schedule_id,
        str(data["chargingRateUnit"]),
        tuple(
            Period(
                int(p["startPeriod"]),
                float(p["limit"]),
                int(p["numberPhases"]) if p.get("numberPhases") is not None else None,
                int(p["phaseToUse"]) if p.get("phaseToUse") is not None else None,
            )
            for p in data.get("chargingSchedulePeriod") or ()
        ),
        parse_ocpp_time(data.get("startSchedule")),
        int(data["duration"]) if data.get("duration") is not None else None,
        float(data["minChargingRate"]) if data.get("minChargingRate") is not None else None,
    )


def _schedule_wire(schedule: Schedule, *, with_id: bool) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "chargingRateUnit": schedule.unit,
        "chargingSchedulePeriod": [
            {
                "startPeriod": p.start,
                "limit": p.limit,
                **({"numberPhases": p.phases} if p.phases is not None else {}),
                **({"phaseToUse": p.phase_to_use} if p.phase_to_use is not None else {}),
            }
            for p in schedule.periods
        ],
    }
    if with_id:
        wire["id"] = schedule.id
    if schedule.start:
        wire["startSchedule"] = ocpp_time(schedule.start)
    if schedule.duration is not None:
        wire["duration"] = schedule.duration
    if schedule.min_rate is not None:
        wire["minChargingRate"] = schedule.min_rate
    return wire


@dataclass(frozen=True)
class StationLimits:
    """What the station reported it supports (its device model or 1.6 keys); None: not known."""

    max_stack_level: int | None = None
    max_periods: int | None = None
    units: tuple[str, ...] = ()  # "A", "W"; empty: not known
    evse_ids: tuple[int, ...] = ()  # the EVSEs (connectors) it has; empty: not known


def problems(
    profile: Profile,
    protocol: str,
    limits: StationLimits = StationLimits(),
    *,
    with_start: bool = False,
) -> list[str]:
    """Every rule `profile` breaks (K01 and 1.6 §3.13), in words; empty: it may be sent.
    `with_start`: the profile goes with a remote start (F01.FR.08-11, K05), so it is a TxProfile
    without a transaction — the station gives it to the transaction the start begins."""
    found: list[str] = []
    if with_start and profile.purpose != TX:  # F01.FR.09
        found.append("A remote start's profile is a TxProfile")
    purposes = tuple(PURPOSES_16.values()) if protocol == "1.6" else PURPOSES_201
    if profile.purpose not in purposes:
        found.append(f"{profile.purpose} is not a purpose of OCPP {protocol}")
    if profile.purpose == EXTERNAL:
        found.append(
            "ChargingStationExternalConstraints is set by the station's external systems, not the CSMS"
        )
    if profile.kind not in KINDS:
        found.append(f"{profile.kind} is not a profile kind")
    if profile.stack_level < 0:
        found.append("The stack level is at least 0")
    if limits.max_stack_level is not None and profile.stack_level > limits.max_stack_level:
        found.append(f"The station takes stack levels up to {limits.max_stack_level}")
    if profile.purpose == MAX_PROFILE:
        if profile.evse_id != 0:  # 1.6: connector 0
            found.append("A station-wide maximum profile is for EVSE 0")
        if profile.kind == "Relative":  # K01.FR.38
            found.append("A station-wide maximum profile is not Relative")
    if with_start:
        if profile.transaction_id:  # F01.FR.11
            found.append("A remote start's profile names no transaction (it has none yet)")
    elif profile.purpose == TX:
        if profile.evse_id <= 0:
            found.append("A TxProfile is for one EVSE (not 0)")
        if not profile.transaction_id:  # K01.FR.03
            found.append("A TxProfile names its transaction")
    elif profile.transaction_id:
        found.append("Only a TxProfile names a transaction")
    if profile.evse_id < 0 or (limits.evse_ids and profile.evse_id not in (0, *limits.evse_ids)):
        found.append(f"The station has no EVSE {profile.evse_id}")
    if profile.kind == "Recurring" and profile.recurrency not in RECURRENCIES:
        found.append("A recurring profile is Daily or Weekly")
    if profile.kind != "Recurring" and profile.recurrency:
        found.append("Only a recurring profile has a recurrency")
    if profile.valid_from and profile.valid_to and profile.valid_from >= profile.valid_to:
        found.append("validFrom is before validTo")
    count = len(profile.schedules)
    if count == 0 or (protocol == "1.6" and count > 1) or count > 3:
        found.append(
            "A profile has one schedule" + ("" if protocol == "1.6" else " (at most three)")
        )
    for index, schedule in enumerate(profile.schedules, 1):
        found.extend(
            f"Schedule {index}: {p}"
            for p in _schedule_problems(profile, schedule, protocol, limits)
        )
    return found


def _schedule_problems(
    profile: Profile, schedule: Schedule, protocol: str, limits: StationLimits
) -> list[str]:
    found: list[str] = []
    if schedule.unit not in UNITS:
        found.append(f"{schedule.unit} is not a rate unit (A or W)")
    elif limits.units and schedule.unit not in limits.units:
        found.append(f"the station takes only {', '.join(limits.units)}")
    if profile.kind in ("Absolute", "Recurring") and schedule.start is None:
        found.append(f"an {profile.kind} profile's schedule has a start")
    if profile.kind == "Relative" and schedule.start is not None:
        found.append("a Relative profile's schedule has no start")
    if schedule.duration is not None and schedule.duration <= 0:
        found.append("its duration is positive")
    periods = schedule.periods
    if not periods:
        found.append("it has at least one period")
        return found
    if limits.max_periods is not None and len(periods) > limits.max_periods:
        found.append(f"the station takes at most {limits.max_periods} periods")
    if periods[0].start != 0:  # K01.FR.31
        found.append("its first period starts at 0")
    starts = [p.start for p in periods]
    if any(b <= a for a, b in itertools.pairwise(starts)):
        found.append("its periods start in increasing order")
    if schedule.duration is not None and starts[-1] >= schedule.duration:
        found.append("every period starts within its duration")
    for period in periods:
        if period.limit < 0:
            found.append("a limit is not negative")
        if period.phases is not None and not 1 <= period.phases <= 3:
            found.append("numberPhases is 1, 2 or 3")
        if period.phase_to_use is not None:
            if protocol == "1.6" or period.phases != 1:
                found.append("phaseToUse goes only with numberPhases 1")
            elif not 1 <= period.phase_to_use <= 3:
                found.append("phaseToUse is 1, 2 or 3")
    if schedule.min_rate is not None and schedule.min_rate < 0:
        found.append("minChargingRate is not negative")
    return sorted(set(found), key=found.index)
