"""What the CSMS records of smart charging: each profile it sets and the station's answer, what
ClearChargingProfile cleared, the profiles a station reports (ReportChargingProfiles), composite
schedules, external limits and EV charging needs; and what it checks a profile against (the
station's own limits, from its device model or 1.6 keys)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from devicemodel import inventory
from devicemodel.references import Address
from smartcharging.models import ChargingNeeds, ChargingProfile, CompositeSchedule, ExternalLimit
from smartcharging.profiles import TX, Profile, StationLimits
from stations import events
from stations.clock import parse_ocpp_time, utcnow
from stations.db import atomic
from stations.models import Connector, Transaction

# Where a station reports its limits: 2.0.1 SmartChargingCtrlr, then the 1.6 keys.
STACK = ("SmartChargingCtrlr.ProfileStackLevel", "OCPP16Configuration.ChargeProfileMaxStackLevel")
PERIODS = (
    "SmartChargingCtrlr.PeriodsPerSchedule",
    "OCPP16Configuration.ChargingScheduleMaxPeriods",
)
UNITS = (
    "SmartChargingCtrlr.RateUnit",
    "OCPP16Configuration.ChargingScheduleAllowedChargingRateUnit",
)
UNIT_NAMES = {"A": "A", "W": "W", "Current": "A", "Power": "W"}


def _reported(station_id: str, addresses: Sequence[str]) -> str | None:
    for address in addresses:
        value = inventory.actual_value(station_id, Address.parse(address))
        if value:
            return value
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def station_limits(station_id: str) -> StationLimits:
    units = _reported(station_id, UNITS) or ""
    return StationLimits(
        _int(_reported(station_id, STACK)),
        _int(_reported(station_id, PERIODS)),
        tuple(UNIT_NAMES[u.strip()] for u in units.split(",") if u.strip() in UNIT_NAMES),
        tuple(
            sorted(
                set(
                    Connector.objects.filter(station_id=station_id).values_list(
                        "evse_id", flat=True
                    )
                )
            )
        ),
    )


def next_profile_id(station_id: str) -> int:
    last = ChargingProfile.objects.filter(station_id=station_id).order_by("-profile_id").first()
    return (last.profile_id if last else 0) + 1


def _store(station_id: str, profile: Profile, **fields: Any) -> ChargingProfile:
    row, _ = ChargingProfile.objects.update_or_create(
        station_id=station_id,
        profile_id=profile.id,
        defaults={
            "evse_id": profile.evse_id,
            "stack_level": profile.stack_level,
            "purpose": profile.purpose,
            "kind": profile.kind,
            "recurrency": profile.recurrency,
            "valid_from": profile.valid_from,
            "valid_to": profile.valid_to,
            "transaction_id": profile.transaction_id,
            "profile": profile.wire_201(),
            **fields,
        },
    )
    return row


def profile_answered(station_id: str, profile: Profile, status: str, info: str, user: Any) -> None:
    """SetChargingProfile's answer: Accepted installs it (replacing the profile of that id),
    Rejected is kept with the reason; no answer leaves it sent."""
    state = {
        "Accepted": ChargingProfile.State.ACTIVE,
        "Rejected": ChargingProfile.State.REJECTED,
    }.get(status, ChargingProfile.State.SENT)
    with atomic():
        _store(
            station_id,
            profile,
            origin=ChargingProfile.Origin.CSMS,
            state=state,
            status_info=info[:600],
            requested_by=user if getattr(user, "pk", None) else None,
        )
        events.publish("charging_profile", station=station_id)


def cleared(station_id: str, payload: dict[str, Any]) -> int:
    """ClearChargingProfile Accepted: the profiles it names (by id, or by EVSE, purpose and stack
    level in either version's criteria) are cleared."""
    rows = ChargingProfile.objects.filter(station_id=station_id).exclude(
        state=ChargingProfile.State.CLEARED
    )
    if payload.get("chargingProfileId") is not None:  # 2.0.1
        rows = rows.filter(profile_id=int(payload["chargingProfileId"]))
    if payload.get("id") is not None:  # 1.6
        rows = rows.filter(profile_id=int(payload["id"]))
    criteria = payload.get("chargingProfileCriteria") or {}
    evse = criteria.get("evseId", payload.get("connectorId"))
    purpose = criteria.get("chargingProfilePurpose", payload.get("chargingProfilePurpose"))
    level = criteria.get("stackLevel", payload.get("stackLevel"))
    if evse is not None:
        rows = rows.filter(evse_id=int(evse))
    if purpose:
        rows = rows.filter(
            purpose="ChargingStationMaxProfile" if purpose == "ChargePointMaxProfile" else purpose
        )
    if level is not None:
        rows = rows.filter(stack_level=int(level))
    count = rows.update(state=ChargingProfile.State.CLEARED, updated_at=utcnow())
    events.publish("charging_profile", station=station_id)
    return count


def reported(station_id: str, evse_id: int, source: str, profiles: Sequence[dict[str, Any]]) -> int:
    """A ReportChargingProfiles part (K09): each profile stored as the station has it."""
    with atomic():
        for wire in profiles:
            _store(
                station_id,
                Profile.from_201(evse_id, wire),
                origin=ChargingProfile.Origin.STATION,
                state=ChargingProfile.State.ACTIVE,
                limit_source=source[:8],
            )
        events.publish("charging_profile", station=station_id)
        return len(profiles)


def composite_answered(
    station_id: str, evse_id: int, duration: int, unit: str, status: str, schedule: Any, user: Any
) -> None:
    CompositeSchedule.objects.create(
        station_id=station_id,
        evse_id=evse_id,
        duration=duration,
        unit=unit[:2],
        status=status[:12],
        schedule=schedule,
        requested_by=user if getattr(user, "pk", None) else None,
    )
    events.publish("charging_profile", station=station_id)


def limit_notified(
    station_id: str, source: str, grid_critical: bool | None, evse_id: int | None, schedules: list
) -> None:
    """NotifyChargingLimit (K11, K12): an external limit, in force until cleared."""
    ExternalLimit.objects.create(
        station_id=station_id,
        source=source[:8],
        grid_critical=grid_critical,
        evse_id=evse_id,
        schedules=schedules,
    )
    events.publish("charging_profile", station=station_id)


def limit_cleared(station_id: str, source: str, evse_id: int | None) -> int:
    """ClearedChargingLimit (K13): the source's limits (on that EVSE) end."""
    rows = ExternalLimit.objects.filter(
        station_id=station_id, source=source, cleared_at__isnull=True
    )
    if evse_id is not None:
        rows = rows.filter(evse_id=evse_id)
    count = rows.update(cleared_at=utcnow())
    events.publish("charging_profile", station=station_id)
    return count


def needs_notified(station_id: str, evse_id: int, needs: dict[str, Any]) -> bool:
    """NotifyEVChargingNeeds (K15, K17): what the EV needs, kept for the allocator and the
    operator. True when the CSMS will send a schedule for it (K15.FR.03): the EVSE has an active
    transaction for a TxProfile to name (K15.FR.07); else the station is told none will come
    (K15.FR.04) and the EV charges on the station's own limits."""
    ac = needs.get("acChargingParameters") or {}
    dc = needs.get("dcChargingParameters") or {}
    ChargingNeeds.objects.create(
        station_id=station_id,
        evse_id=evse_id,
        transfer_mode=str(needs.get("requestedEnergyTransfer", ""))[:16],
        departure_time=parse_ocpp_time(needs.get("departureTime")),
        energy_amount_wh=ac.get("energyAmount", dc.get("energyAmount")),
        min_current_a=ac.get("evMinCurrent"),
        max_current_a=ac.get("evMaxCurrent", dc.get("evMaxCurrent")),
        max_power_w=dc.get("evMaxPower"),
        needs=needs,
    )
    events.publish("charging_profile", station=station_id)
    return Transaction.objects.filter(
        station_id=station_id, evse_id=evse_id, is_active=True
    ).exists()


def ev_schedule_notified(station_id: str, evse_id: int, schedule: dict[str, Any]) -> bool:
    """NotifyEVChargingSchedule (K16, K17): the schedule the EV chose, kept with its latest needs.
    True when it stays within the TxProfile the CSMS gave that EVSE (K16.FR.06); False when a
    period asks for more, in the same unit (K16.FR.07). Without such a profile to compare with,
    the station's own check stands."""
    latest = ChargingNeeds.objects.filter(station_id=station_id, evse_id=evse_id).first()
    if latest is not None:
        latest.ev_schedule = schedule
        latest.save(update_fields=["ev_schedule"])
        events.publish("charging_profile", station=station_id)
    given = (
        ChargingProfile.objects.filter(
            station_id=station_id,
            evse_id=evse_id,
            purpose=TX,
            origin=ChargingProfile.Origin.CSMS,
            state=ChargingProfile.State.ACTIVE,
        )
        .order_by("-updated_at")
        .first()
    )
    if given is None:
        return True
    ours = Profile.from_201(evse_id, given.profile).schedules
    unit = str(schedule.get("chargingRateUnit", ""))
    allowed = [p.limit for s in ours if s.unit == unit for p in s.periods]
    asked = [float(p["limit"]) for p in schedule.get("chargingSchedulePeriod") or ()]
    return not allowed or not asked or max(asked) <= min(allowed) + 1e-9
