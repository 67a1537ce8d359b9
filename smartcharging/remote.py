"""The smart-charging commands (OCPP 2.0.1 K01, K08-K10; 1.6 Smart Charging), declared in the
catalog of `stations.remote`, and what their answers mean.

SetChargingProfile goes through `smartcharging.profiles`: a profile from a form or a REST payload
of either version is checked against every rule of K01 and against the limits the station
reported (stack levels, periods, rate units, its EVSEs) before anything is sent, all problems at
once; the CSMS gives a new profile the next free id on the station. The answer is recorded on the
profile (installed, or rejected with the station's reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from devicemodel.readings import status_info
from smartcharging import services
from smartcharging.profiles import DEFAULT, MAX_PROFILE, TX, Period, Profile, Schedule, problems
from stations.clock import utcnow
from stations.db import in_db_thread
from stations.models import Station
from stations.remote.answers import Answer, records
from stations.remote.catalog import EVSE as ONE_EVSE
from stations.remote.catalog import (
    REMOTE_ID_TOKEN,
    V16,
    V201,
    CommandSpec,
    NoDefaultPayload,
    Target,
    register,
    request_id,
)
from stations.remote.delivery import send_command
from stations.remote.forms import Choice, Form, FormInput, InputError, Number, Text
from stations.remote.results import CommandResult, Outcome

PURPOSE = Choice(
    "purpose",
    "Profile",
    ((DEFAULT, "Default for sessions"), (MAX_PROFILE, "Station maximum"), (TX, "This session")),
    default=DEFAULT,
)
UNIT = Choice("unit", "Unit", (("A", "A"), ("W", "W")), default="A")
EVSE = Number("evse", "EVSE (0: all)", default=0, minimum=0)
LIMIT = Number("limit", "Limit", required=True, minimum=0)
STACK = Number("stack_level", "Stack level", default=0, minimum=0)


@dataclass(frozen=True)
class SetProfileInput(FormInput):
    profile: Profile

    fields = (
        PURPOSE,
        EVSE,
        LIMIT,
        UNIT,
        STACK,
        Text("transaction_id", "Session", placeholder="(TxProfile)", required=False),
    )

    @classmethod
    def from_form(cls, form: Form) -> SetProfileInput:
        """One limit from now on: Relative for a session's profile, Absolute otherwise."""
        purpose = PURPOSE.read(form)
        relative = purpose == TX
        schedule = Schedule(
            1,
            UNIT.read(form),
            (Period(0, float(LIMIT.read_int(form))),),
            None if relative else utcnow(),
        )
        return cls(
            Profile(
                0,  # the next free id on the station, when it is sent
                STACK.read_int(form),
                purpose,
                "Relative" if relative else "Absolute",
                (schedule,),
                EVSE.read_int(form),
                transaction_id=str(form.get("transaction_id") or "").strip()[:36],
            )
        )


def _protocol(station_id: str) -> str:
    protocol = Station.objects.filter(pk=station_id).values_list("protocol", flat=True).first()
    if protocol is None:
        raise InputError(f"No such station: {station_id}")
    return protocol or V201


def _checked(station_id: str, profile: Profile, *, with_start: bool = False) -> tuple[Profile, str]:
    """The profile numbered (a new one takes the station's next free id) and checked against
    every rule and the station's limits: InputError lists all it breaks."""
    protocol = _protocol(station_id)
    if profile.id == 0:
        profile = replace(profile, id=services.next_profile_id(station_id))
    found = problems(profile, protocol, services.station_limits(station_id), with_start=with_start)
    if found:
        raise InputError("; ".join(found))
    return profile, protocol


async def _set_profile(
    value: SetProfileInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    profile, protocol = await in_db_thread(_checked)(station_id, value.profile)
    result = await send_command(
        station_id,
        "SetChargingProfile",
        profile.payload(protocol),
        requested_by=user,
        source=source,
    )
    answered = result.outcome == Outcome.ANSWERED and result.payload is not None
    response = (result.payload or {}) if answered else {}
    await in_db_thread(services.profile_answered)(
        station_id,
        profile,
        str(response.get("status", "")),
        status_info(response.get("statusInfo")),
        user,
    )
    return f"SetChargingProfile #{profile.id}", result


def _no_profile(target: Target) -> SetProfileInput:
    raise NoDefaultPayload("SetChargingProfile needs the profile")


register(
    CommandSpec(
        "set-charging-profile",
        "Set a charging profile",
        {V16: "SetChargingProfile", V201: "SetChargingProfile"},
        SetProfileInput,
        lambda value, target: value.profile.payload(target.protocol),
        default=_no_profile,
        perform=_set_profile,
        parse=lambda payload, target: SetProfileInput(Profile.from_wire(target.protocol, payload)),
        on_page=False,  # on the station's charging section
    )
)


# --- Remote start, with a charging limit (F01/F02, K05; 1.6 RemoteStartTransaction) -------------

START_LIMIT = Number("limit_a", "Limit (A)", minimum=0, placeholder="(none)")


@dataclass(frozen=True)
class RemoteStartInput(FormInput):
    """A remote start; `profile`: a TxProfile that goes with it (the station gives it to the
    transaction the start begins); `payload`: a REST or CLI payload as given, sent with only its
    profile checked (and numbered, for a form's)."""

    id_token: str = REMOTE_ID_TOKEN
    evse_id: int | None = 1
    profile: Profile | None = None
    payload: dict[str, Any] | None = field(default=None, compare=False)

    fields = (Text("id_token", "ID token", placeholder="ID token"), ONE_EVSE, START_LIMIT)

    @classmethod
    def from_form(cls, form: Form) -> RemoteStartInput:
        """A limit given: one period of it for the whole session, in amperes."""
        evse = ONE_EVSE.read_int(form)
        limit = START_LIMIT.read(form)
        profile = None
        if limit is not None:
            schedule = Schedule(1, "A", (Period(0, float(limit)),))
            profile = Profile(0, 0, TX, "Relative", (schedule,), evse)
        return cls(Text("id_token", "").read(form), evse, profile)


def _remote_start(value: RemoteStartInput, target: Target) -> dict[str, Any]:
    if value.payload is not None:
        payload = dict(value.payload)
    elif target.protocol == V16:
        payload = {"idTag": value.id_token, "connectorId": value.evse_id}
    else:
        payload = {
            "idToken": {"idToken": value.id_token, "type": "Central"},
            "remoteStartId": request_id(),
            "evseId": value.evse_id,
        }
    if value.profile is not None:
        profile = value.profile
        payload["chargingProfile"] = (
            profile.wire_16() if target.protocol == V16 else profile.wire_201()
        )
    return payload


def _parse_start(payload: dict[str, Any], target: Target) -> RemoteStartInput:
    if target.protocol == V16:
        token, evse = str(payload["idTag"]), payload.get("connectorId")
    else:
        token, evse = str(payload["idToken"]["idToken"]), payload.get("evseId")
    profile = None
    if payload.get("chargingProfile"):
        wire = payload["chargingProfile"]
        read = Profile.from_16 if target.protocol == V16 else Profile.from_201
        profile = read(int(evse or 0), wire)
    return RemoteStartInput(token, evse, profile, payload)


async def _start(
    value: RemoteStartInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    """Without a limit, a plain send (no database on the way); with one, the profile is checked
    first (F01.FR.09/.11 and K01) and, once the station accepts the start, recorded as the
    station's TxProfile for that EVSE."""
    if value.profile is None:
        protocol = await in_db_thread(_protocol)(station_id)
        action, payload = REMOTE_START.payload(value, Target(station_id, protocol))
        return action, await send_command(
            station_id, action, payload, requested_by=user, source=source
        )
    profile, protocol = await in_db_thread(_checked)(station_id, value.profile, with_start=True)
    value = replace(value, profile=profile)
    action, payload = REMOTE_START.payload(value, Target(station_id, protocol))
    result = await send_command(station_id, action, payload, requested_by=user, source=source)
    response = (result.payload or {}) if result.outcome == Outcome.ANSWERED else {}
    if response.get("status") == "Accepted":
        await in_db_thread(services.profile_answered)(station_id, profile, "Accepted", "", user)
    return action, result


REMOTE_START = register(
    CommandSpec(
        "remote-start",
        "Remote start",
        {V16: "RemoteStartTransaction", V201: "RequestStartTransaction"},
        RemoteStartInput,
        _remote_start,
        perform=_start,
        parse=_parse_start,
    )
)


# --- ClearChargingProfile (K10) ------------------------------------------------------------------


@dataclass(frozen=True)
class ClearInput(FormInput):
    profile_id: int | None = None
    evse_id: int | None = None
    purpose: str = ""
    stack_level: int | None = None

    fields = (Number("profile_id", "Profile #", minimum=1),)

    @classmethod
    def from_form(cls, form: Form) -> ClearInput:
        return cls(Number("profile_id", "", minimum=1).read(form))


def _clear(value: ClearInput, target: Target) -> dict[str, Any]:
    if target.protocol == V16:
        payload: dict[str, Any] = {}
        if value.profile_id is not None:
            payload["id"] = value.profile_id
        if value.evse_id is not None:
            payload["connectorId"] = value.evse_id
        if value.purpose:
            payload["chargingProfilePurpose"] = (
                "ChargePointMaxProfile" if value.purpose == MAX_PROFILE else value.purpose
            )
        if value.stack_level is not None:
            payload["stackLevel"] = value.stack_level
        return payload
    criteria: dict[str, Any] = {}
    if value.evse_id is not None:
        criteria["evseId"] = value.evse_id
    if value.purpose:
        criteria["chargingProfilePurpose"] = value.purpose
    if value.stack_level is not None:
        criteria["stackLevel"] = value.stack_level
    payload = {"chargingProfileCriteria": criteria} if criteria else {}
    if value.profile_id is not None:
        payload["chargingProfileId"] = value.profile_id
    return payload


register(
    CommandSpec(
        "clear-charging-profile",
        "Clear charging profiles",
        {V16: "ClearChargingProfile", V201: "ClearChargingProfile"},
        ClearInput,
        _clear,
        on_page=False,
    )
)


@records("ClearChargingProfile")
def _cleared(answer: Answer) -> None:
    if answer.response.get("status") == "Accepted":
        services.cleared(answer.station_id, answer.payload)


# --- GetChargingProfiles (K09, 2.0.1) and GetCompositeSchedule (K08) ------------------------------


@dataclass(frozen=True)
class ListInput(FormInput):
    evse_id: int | None = None

    fields = (Number("evse", "EVSE (empty: all)", minimum=0),)

    @classmethod
    def from_form(cls, form: Form) -> ListInput:
        return cls(Number("evse", "", minimum=0).read(form))


def _list(value: ListInput, target: Target) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "requestId": request_id(),
        "chargingProfile": {},  # every profile
    }
    if value.evse_id is not None:
        payload["evseId"] = value.evse_id
    return payload


register(
    CommandSpec(
        "get-charging-profiles",
        "Ask for its charging profiles",
        {V201: "GetChargingProfiles"},
        ListInput,
        _list,
        on_page=False,
    )
)


@dataclass(frozen=True)
class CompositeInput(FormInput):
    evse_id: int = 0
    duration: int = 3600
    unit: str = ""

    fields = (
        EVSE,
        Number("duration", "For seconds", default=3600, minimum=1, maximum=7 * 86400),
        Choice("unit", "Unit", (("", "Either"), ("A", "A"), ("W", "W"))),
    )

    @classmethod
    def from_form(cls, form: Form) -> CompositeInput:
        duration = Number("duration", "", default=3600, minimum=1, maximum=7 * 86400).read_int(form)
        return cls(EVSE.read_int(form), duration, str(form.get("unit") or ""))


def _composite(value: CompositeInput, target: Target) -> dict[str, Any]:
    evse = "connectorId" if target.protocol == V16 else "evseId"
    payload: dict[str, Any] = {evse: value.evse_id, "duration": value.duration}
    if value.unit:
        payload["chargingRateUnit"] = value.unit
    return payload


register(
    CommandSpec(
        "composite-schedule",
        "Get the composite schedule",
        {V16: "GetCompositeSchedule", V201: "GetCompositeSchedule"},
        CompositeInput,
        _composite,
        on_page=False,
    )
)


@records("GetCompositeSchedule")
def _composite_answered(answer: Answer) -> None:
    if not answer.answered:
        return
    response = answer.response
    schedule = response.get("schedule") or (
        {
            "scheduleStart": response.get("scheduleStart"),
            "chargingSchedule": response.get("chargingSchedule"),
        }
        if response.get("chargingSchedule")
        else None
    )
    payload = answer.payload
    services.composite_answered(
        answer.station_id,
        int(payload.get("evseId", payload.get("connectorId", 0))),
        int(payload["duration"]),
        str(payload.get("chargingRateUnit", "")),
        str(response.get("status", "")),
        schedule,
        answer.user,
    )
