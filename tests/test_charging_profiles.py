"""Charging profiles on the CSMS's side (OCPP 2.0.1 K01, K08-K13, K15, K17; 1.6 Smart Charging).

- the rules of K01 checked before anything is sent, every problem at once (K01.FR.03 a TxProfile
  names its transaction, K01.FR.31 the first period starts at 0, K01.FR.38 a station maximum is not
  Relative, and the rest of the profile's shape), against the limits the station reported;
- one typed profile for both versions: the 1.6 and 2.0.1 wire shapes read and written back;
- live, with the emulator: SetChargingProfile from REST installs the profile (the station caps its
  power), a new profile gets the next id, a bad one is refused with its reasons and never sent;
  ClearChargingProfile clears it; GetCompositeSchedule is stored; GetChargingProfiles' reports
  (K09) are stored as the station's;
- in process: NotifyChargingLimit / ClearedChargingLimit (K11-K13) stored; NotifyEVChargingNeeds
  (K15, K17) answered with a TxProfile for the session (the EV's maximum, or the allocator's share
  on a circuit), NotifyEVChargingSchedule (K16) checked against it;
- remote start with a charging limit (F01.FR.08-11, K05), from REST and the station page.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from smartcharging.models import ChargingNeeds, ChargingProfile, CompositeSchedule, ExternalLimit
from smartcharging.profiles import Period, Profile, Schedule, StationLimits, problems
from tests.emulated import running
from tests.live_api import LiveApi, staff_token

NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)


def profile(**changes: Any) -> Profile:
    schedule = changes.pop("schedule", Schedule(1, "A", (Period(0, 16.0),), NOW, 3600))
    values: dict[str, Any] = {
        "id": 1, "stack_level": 0, "purpose": "TxDefaultProfile", "kind": "Absolute",
        "schedules": (schedule,), "evse_id": 1,
    }  # fmt: skip
    values.update(changes)
    return Profile(**values)


def test_k01_a_valid_profile_has_no_problem():
    assert problems(profile(), "2.0.1") == [] and problems(profile(), "1.6") == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"purpose": "TxProfile"}, "A TxProfile names its transaction"),  # K01.FR.03
        ({"purpose": "TxProfile", "evse_id": 0, "transaction_id": "t"}, "for one EVSE"),
        ({"transaction_id": "t"}, "Only a TxProfile names a transaction"),
        (
            {"schedule": Schedule(1, "A", (Period(60, 16.0),), NOW)},
            "first period starts at 0",
        ),  # K01.FR.31
        (
            {
                "purpose": "ChargingStationMaxProfile",
                "evse_id": 0,
                "kind": "Relative",
                "schedule": Schedule(1, "A", (Period(0, 16.0),)),
            },
            "not Relative",
        ),  # K01.FR.38
        ({"purpose": "ChargingStationMaxProfile"}, "for EVSE 0"),
        ({"kind": "Recurring"}, "Daily or Weekly"),
        ({"recurrency": "Daily"}, "Only a recurring profile"),
        ({"schedule": Schedule(1, "A", (Period(0, 16.0),))}, "schedule has a start"),
        ({"kind": "Relative"}, "Relative profile's schedule has no start"),
        (
            {"schedule": Schedule(1, "A", (Period(0, 16.0), Period(0, 8.0)), NOW)},
            "increasing order",
        ),
        (
            {"schedule": Schedule(1, "A", (Period(0, 16.0), Period(7200, 8.0)), NOW, 3600)},
            "within its duration",
        ),
        ({"schedule": Schedule(1, "kW", (Period(0, 16.0),), NOW)}, "not a rate unit"),
        ({"schedule": Schedule(1, "A", (Period(0, -1.0),), NOW)}, "not negative"),
        (
            {"schedule": Schedule(1, "A", (Period(0, 16.0, 3, 1),), NOW)},
            "phaseToUse goes only with numberPhases 1",
        ),
        ({"valid_from": NOW, "valid_to": NOW}, "validFrom is before validTo"),
        ({"stack_level": -1}, "at least 0"),
        ({"purpose": "ChargingStationExternalConstraints", "evse_id": 0}, "external systems"),
        ({"schedules": ()}, "one schedule"),
    ],
)
def test_k01_each_rule(changes, problem):
    found = problems(profile(**changes), "2.0.1")
    assert any(problem in p for p in found), found


def test_k01_against_what_the_station_reported():
    limits = StationLimits(max_stack_level=3, max_periods=1, units=("W",), evse_ids=(1, 2))
    schedule = Schedule(1, "A", (Period(0, 16.0), Period(60, 8.0)), NOW)
    found = problems(profile(stack_level=5, evse_id=3, schedule=schedule), "2.0.1", limits)
    assert found == [
        "The station takes stack levels up to 3",
        "The station has no EVSE 3",
        "Schedule 1: the station takes only W",
        "Schedule 1: the station takes at most 1 periods",
    ]


def test_1_6_one_schedule_and_its_purposes():
    two = profile(schedules=(profile().schedules[0], profile().schedules[0]))
    assert "A profile has one schedule" in problems(two, "1.6")
    assert "ChargingStationExternalConstraints is not a purpose of OCPP 1.6" in problems(
        profile(purpose="ChargingStationExternalConstraints", evse_id=0), "1.6"
    )


def test_both_wire_shapes_round_trip():
    wire_16 = {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 7, "stackLevel": 2, "chargingProfilePurpose": "ChargePointMaxProfile",
            "chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
            "chargingSchedule": {
                "chargingRateUnit": "W", "startSchedule": "2026-12-03T00:00:00.000Z", "duration": 86400,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000.0}, {"startPeriod": 3600, "limit": 11000.0, "numberPhases": 3}],
            },
        },
    }  # fmt: skip
    read = Profile.from_wire("1.6", wire_16)
    assert read.purpose == "ChargingStationMaxProfile" and read.payload("1.6") == wire_16
    assert problems(read, "1.6") == []
    as_201 = read.payload("2.0.1")
    assert as_201["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert Profile.from_wire("2.0.1", as_201) == read


db = pytest.mark.django_db(transaction=True)


@db
@pytest.mark.live
@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
async def test_k01_k10_k08_a_profile_is_set_cleared_and_the_schedule_read(live_uvicorn, version):
    api = LiveApi(live_uvicorn, await staff_token())
    identity = f"SC_{version.replace('.', '')}"
    async with running(live_uvicorn, identity, version) as station:
        bad = profile(
            schedule=Schedule(1, "A", (Period(30, 6.0),), NOW), purpose="TxProfile"
        ).payload(version)
        status, answer = await api.command(identity, "SetChargingProfile", bad)
        assert status == 400 and "first period starts at 0" in answer["message"]
        assert "A TxProfile names its transaction" in answer["message"]
        assert not [a for a, _ in station.sent_calls() if a == "SetChargingProfile"]

        good = profile(id=0, evse_id=1, schedule=Schedule(1, "A", (Period(0, 6.0),), NOW)).payload(
            version
        )
        _, answer = await api.command(identity, "SetChargingProfile", good)
        assert answer == {"status": "Accepted"}
        stored = await ChargingProfile.objects.aget(station_id=identity)
        assert (stored.profile_id, stored.state, stored.origin) == (
            1,
            "active",
            "csms",
        )  # the next id
        assert station.connectors[1].limit_w == pytest.approx(6.0 * 230 * 3)  # the station obeys

        _, answer = await api.command(
            identity,
            "GetCompositeSchedule",
            {("connectorId" if version == "1.6" else "evseId"): 1, "duration": 600},
        )
        assert answer["status"] == "Accepted"
        composite = await CompositeSchedule.objects.aget(station_id=identity)
        assert composite.duration == 600 and composite.schedule

        clear = {"id": 1} if version == "1.6" else {"chargingProfileId": 1}
        _, answer = await api.command(identity, "ClearChargingProfile", clear)
        assert answer == {"status": "Accepted"}
        assert (await ChargingProfile.objects.aget(pk=stored.pk)).state == "cleared"
        assert station.connectors[1].limit_w is None


@db
@pytest.mark.live
async def test_k09_reported_profiles_are_stored_as_the_stations(live_uvicorn):
    api = LiveApi(live_uvicorn, await staff_token())
    async with running(live_uvicorn, "SC_REP") as station:
        for evse in (1,):
            wire = profile(
                id=40 + evse,
                evse_id=evse,
                kind="Relative",
                schedule=Schedule(1, "A", (Period(0, 10.0),)),
            ).payload("2.0.1")
            await api.command("SC_REP", "SetChargingProfile", wire)
        await ChargingProfile.objects.filter(station_id="SC_REP").adelete()  # the CSMS forgot them
        _, answer = await api.command(
            "SC_REP", "GetChargingProfiles", {"requestId": 3, "chargingProfile": {}}
        )
        assert answer == {"status": "Accepted"}
        await station.until(lambda: station.answered.count("ReportChargingProfiles") >= 1, 10)
        reported = await ChargingProfile.objects.aget(station_id="SC_REP")
        assert (reported.profile_id, reported.origin, reported.limit_source) == (
            41,
            "station",
            "CSO",
        )


@db
@pytest.mark.parametrize("version", ["2.0.1"])
async def test_k11_k13_k15_k17_what_the_station_notifies(booted):
    limit = {
        "chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": True},
        "evseId": 1,
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}],
            }
        ],
    }
    assert await booted.result("NotifyChargingLimit", limit) == {}
    stored = await ExternalLimit.objects.aget(station_id="CP_1")
    assert (stored.source, stored.grid_critical, stored.evse_id) == ("EMS", True, 1)
    assert stored.schedules[0]["chargingSchedulePeriod"][0]["limit"] == 7000
    assert (
        await booted.result("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1})
        == {}
    )
    assert (await ExternalLimit.objects.aget(pk=stored.pk)).cleared_at is not None

    needs = {
        "evseId": 1,
        "chargingNeeds": {
            "requestedEnergyTransfer": "AC_three_phase",
            "departureTime": "2026-12-03T18:00:00Z",
            "acChargingParameters": {
                "energyAmount": 20000,
                "evMinCurrent": 6,
                "evMaxCurrent": 32,
                "evMaxVoltage": 400,
            },
        },
    }
    answer = await booted.result("NotifyEVChargingNeeds", needs)
    # K15.FR.04: no session on the EVSE, so no TxProfile can name one: no schedule will come.
    assert answer == {"status": "Rejected", "statusInfo": {"reasonCode": "NoTransaction"}}
    kept = await ChargingNeeds.objects.aget(station_id="CP_1")
    assert (kept.min_current_a, kept.max_current_a, kept.energy_amount_wh) == (6, 32, 20000)
    schedule = {
        "timeBase": "2026-12-03T12:00:00Z",
        "evseId": 1,
        "chargingSchedule": {
            "id": 2,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
        },
    }
    # No CSMS profile to compare with: the station's own check stands.
    assert await booted.result("NotifyEVChargingSchedule", schedule) == {"status": "Accepted"}
    kept = await ChargingNeeds.objects.aget(pk=kept.pk)
    assert kept.ev_schedule and kept.ev_schedule["chargingSchedulePeriod"][0]["limit"] == 16


# --- ISO 15118 charging needs answered with a schedule (K15-K17) -------------------------------------


async def _session(make_station: Any, *, made: bool = False) -> Any:
    from tests.ocpp_client import OcppTestClient

    if not made:
        await make_station("CP_1")
    station, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await station.boot()
    started = {
        "eventType": "Started",
        "timestamp": "2026-12-03T12:00:00Z",
        "triggerReason": "CablePluggedIn",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "TX-1", "chargingState": "EVConnected"},
        "evse": {"id": 1, "connectorId": 1},
    }
    await station.result("TransactionEvent", started)
    return station


def _needs(mode: str = "AC_three_phase", **parameters: Any) -> dict[str, Any]:
    key = "dcChargingParameters" if mode.startswith("DC") else "acChargingParameters"
    values = {"energyAmount": 20_000, "evMaxCurrent": 32, "evMaxVoltage": 400, **parameters}
    if key == "acChargingParameters":
        values.setdefault("evMinCurrent", 6)
    return {
        "evseId": 1,
        "maxScheduleTuples": 3,
        "chargingNeeds": {"requestedEnergyTransfer": mode, key: values},
    }


def _ev_schedule(limit: float, unit: str = "A") -> dict[str, Any]:
    return {
        "timeBase": "2026-12-03T12:00:00Z",
        "evseId": 1,
        "chargingSchedule": {
            "id": 7,
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }


async def _installed(profile_id: int) -> ChargingProfile:
    import asyncio

    deadline = asyncio.get_running_loop().time() + 10
    while True:
        row = await ChargingProfile.objects.filter(
            station_id="CP_1", profile_id=profile_id, state="active"
        ).afirst()
        if row is not None:
            return row
        assert asyncio.get_running_loop().time() < deadline, "the profile was never recorded"
        await asyncio.sleep(0.02)


@db
async def test_k15_fr_03_fr_07_a_sessions_needs_get_its_tx_profile(make_station):
    """K15.FR.03: Accepted, a schedule will come; K15.FR.07: a SetChargingProfile with a TxProfile
    naming the transaction, at most three schedules of no more periods than maxScheduleTuples —
    here the EV's own maximum, the station being on no circuit. K16.FR.06/.07: the EV's schedule
    is Accepted within it, Rejected above it."""
    station = await _session(make_station)
    needs = _needs(evMinCurrent=6, evMaxCurrent=20)
    assert await station.result("NotifyEVChargingNeeds", needs) == {"status": "Accepted"}
    call = await station.answer({"status": "Accepted"})
    assert call[2] == "SetChargingProfile" and call[3]["evseId"] == 1
    sent = call[3]["chargingProfile"]
    assert (sent["chargingProfilePurpose"], sent["transactionId"]) == ("TxProfile", "TX-1")
    schedules = sent["chargingSchedule"]
    assert 1 <= len(schedules) <= 3
    assert all(len(s["chargingSchedulePeriod"]) <= needs["maxScheduleTuples"] for s in schedules)
    assert (
        schedules[0]["chargingRateUnit"],
        schedules[0]["chargingSchedulePeriod"][0]["limit"],
    ) == (
        "A",
        20,
    )
    await _installed(sent["id"])

    assert await station.result("NotifyEVChargingSchedule", _ev_schedule(16)) == {
        "status": "Accepted"
    }
    assert await station.result("NotifyEVChargingSchedule", _ev_schedule(25)) == {
        "status": "Rejected"
    }
    await station.close()


@db
async def test_k15_a_dc_evs_schedule_is_in_watts(make_station):
    station = await _session(make_station)
    needs = _needs("DC", evMaxPower=50_000, evMaxCurrent=125, evMaxVoltage=500)
    assert await station.result("NotifyEVChargingNeeds", needs) == {"status": "Accepted"}
    call = await station.answer({"status": "Accepted"})
    schedule = call[3]["chargingProfile"]["chargingSchedule"][0]
    assert (schedule["chargingRateUnit"], schedule["chargingSchedulePeriod"][0]["limit"]) == (
        "W",
        50_000,
    )
    await _installed(call[3]["chargingProfile"]["id"])
    assert (await station.result("NotifyEVChargingSchedule", _ev_schedule(60_000, "W")))[
        "status"
    ] == "Rejected"
    await station.close()


@db
async def test_k15_on_a_circuit_the_schedule_is_the_allocators_share(make_station):
    """A station under a 10 A circuit: the EV asks for up to 20 A, its schedule is the circuit's
    10 A (the allocator's share, with the same profile id as its later ones)."""
    from sites.models import Circuit, Placement, Site
    from smartcharging.load import TX_ID_BASE

    await make_station("CP_1")
    site = await Site.objects.acreate(name="Depot")
    circuit = await Circuit.objects.acreate(site=site, name="Main", limit_a=10, phases=3)
    await Placement.objects.filter(station_id="CP_1").adelete()
    await Placement.objects.acreate(station_id="CP_1", site=site, circuit=circuit)
    station = await _session(make_station, made=True)
    assert await station.result("NotifyEVChargingNeeds", _needs(evMaxCurrent=20)) == {
        "status": "Accepted"
    }
    sent = {}
    while "TxProfile" not in sent:  # the station's safe default may come first
        call = await station.answer({"status": "Accepted"})
        profile = call[3]["chargingProfile"]
        sent[profile["chargingProfilePurpose"]] = profile
    tx = sent["TxProfile"]
    assert (tx["id"], tx["transactionId"]) == (TX_ID_BASE + 1, "TX-1")
    assert tx["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 10
    await station.close()


@db
async def test_an_operator_sets_and_clears_a_profile_from_the_station_page(make_station):
    """In process: the station page's profile form (drawn from the declaration), its table of
    profiles with a clear button per row, the composite schedule and the EV's needs shown."""
    import asyncio

    from django.contrib.auth import get_user_model
    from django.test import AsyncClient

    from tests.ocpp_client import OcppTestClient

    await make_station("CP_1")
    station, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await station.boot()
    await get_user_model().objects.acreate_user("op", password="pw", is_staff=True)
    browser = AsyncClient()
    await browser.alogin(username="op", password="pw")
    json = {"accept": "application/json"}
    page = (await browser.get("/stations/CP_1/")).content.decode()
    assert 'data-action="set-charging-profile"' in page and "No charging profile known." in page

    posted = asyncio.ensure_future(
        browser.post(
            "/stations/CP_1/actions/set-charging-profile/",
            {
                "purpose": "TxDefaultProfile",
                "evse": "0",
                "limit": "16",
                "unit": "A",
                "stack_level": "1",
            },
            headers=json,
        )
    )
    call = await station.answer({"status": "Accepted"})
    sent = call[3]["chargingProfile"]
    assert (call[3]["evseId"], sent["id"], sent["stackLevel"], sent["chargingProfileKind"]) == (
        0,
        1,
        1,
        "Absolute",
    )
    assert sent["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0}
    ]
    assert (await posted).json()["ok"]
    page = (await browser.get("/stations/CP_1/")).content.decode()
    assert 'data-profile="1"' in page and "16.0 A" in page

    posted = asyncio.ensure_future(
        browser.post(
            "/stations/CP_1/actions/clear-charging-profile/", {"profile_id": "1"}, headers=json
        )
    )
    call = await station.answer({"status": "Accepted"})
    assert call[2:] == ["ClearChargingProfile", {"chargingProfileId": 1}]
    await posted
    assert "No charging profile known." in (await browser.get("/stations/CP_1/")).content.decode()

    # A profile that breaks the rules: refused with the reason, nothing sent.
    response = await browser.post(
        "/stations/CP_1/actions/set-charging-profile/",
        {"purpose": "TxProfile", "evse": "1", "limit": "10", "unit": "A"},
        headers=json,
    )
    assert response.status_code == 400 and "names its transaction" in response.json()["message"]
    await station.close()


# --- remote start with a charging limit (F01.FR.08-11, K05) ------------------------------------------


def test_f01_fr_09_fr_11_a_remote_starts_profile_is_a_tx_profile_without_a_transaction():
    relative = Schedule(1, "A", (Period(0, 10.0),))
    fine = profile(purpose="TxProfile", kind="Relative", schedule=relative)
    assert problems(fine, "2.0.1", with_start=True) == []
    assert problems(fine, "1.6", with_start=True) == []
    default = profile(purpose="TxDefaultProfile", kind="Relative", schedule=relative)
    assert "A remote start's profile is a TxProfile" in problems(default, "2.0.1", with_start=True)
    named = profile(purpose="TxProfile", kind="Relative", schedule=relative, transaction_id="t")
    assert any("names no transaction" in p for p in problems(named, "2.0.1", with_start=True))


@db
@pytest.mark.live
@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
async def test_k05_a_remote_start_carries_a_limit_the_station_obeys(live_uvicorn, version):
    """TC_K_37_CSMS: RequestStartTransaction (1.6 RemoteStartTransaction) with a TxProfile, no
    transactionId; the station starts the session within it, the CSMS records the profile; a
    profile breaking F01.FR.09/.11 is refused with the reason and never sent."""
    api = LiveApi(live_uvicorn, await staff_token())
    identity = f"RS_{version.replace('.', '')}"
    relative = Schedule(1, "A", (Period(0, 10.0),))
    if version == "1.6":
        start: dict[str, Any] = {"idTag": "TAG-1", "connectorId": 1}
        wire = profile(id=5, purpose="TxProfile", kind="Relative", schedule=relative).wire_16()
    else:
        start = {
            "idToken": {"idToken": "TAG-1", "type": "Central"},
            "remoteStartId": 77,
            "evseId": 1,
        }
        wire = profile(id=5, purpose="TxProfile", kind="Relative", schedule=relative).wire_201()
    action = "RemoteStartTransaction" if version == "1.6" else "RequestStartTransaction"
    from stations.models import IdToken

    await IdToken.objects.acreate(token="TAG-1")
    async with running(live_uvicorn, identity, version) as station:
        bad = {**start, "chargingProfile": {**wire, "chargingProfilePurpose": "TxDefaultProfile"}}
        status, answer = await api.command(identity, action, bad)
        assert status == 400 and "is a TxProfile" in answer["message"]
        assert not [a for a, _ in station.sent_calls() if a == action]

        status, answer = await api.command(identity, action, {**start, "chargingProfile": wire})
        assert (status, answer) == (200, {"status": "Accepted"})
        await station.until(lambda: station.connectors[1].transaction is not None, 10)
        assert station.connectors[1].limit_w == pytest.approx(10.0 * 230 * 3)
        stored = await ChargingProfile.objects.aget(station_id=identity)
        assert (stored.profile_id, stored.purpose, stored.state, stored.evse_id) == (
            5,
            "TxProfile",
            "active",
            1,
        )


@db
async def test_an_operator_starts_a_session_with_a_limit_from_the_station_page(make_station):
    """The remote start form's optional limit becomes a Relative TxProfile with the station's
    next profile id, without a transactionId (F01.FR.11); left empty, no profile goes."""
    import asyncio

    from django.contrib.auth import get_user_model
    from django.test import AsyncClient

    from tests.ocpp_client import OcppTestClient

    await make_station("CP_1")
    station, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await station.boot()
    await get_user_model().objects.acreate_user("op", password="pw", is_staff=True)
    browser = AsyncClient()
    await browser.alogin(username="op", password="pw")
    json = {"accept": "application/json"}
    page = (await browser.get("/stations/CP_1/")).content.decode()
    assert 'name="limit_a"' in page

    form = {"id_token": "TAG-9", "evse_id": "1", "limit_a": "12"}
    posted = asyncio.ensure_future(
        browser.post("/stations/CP_1/actions/remote-start/", form, headers=json)
    )
    call = await station.answer({"status": "Accepted"})
    assert (call[2], call[3]["idToken"]["idToken"]) == ("RequestStartTransaction", "TAG-9")
    sent = call[3]["chargingProfile"]
    assert (sent["id"], sent["chargingProfilePurpose"], sent["chargingProfileKind"]) == (
        1,
        "TxProfile",
        "Relative",
    )
    assert "transactionId" not in sent
    assert sent["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 12
    assert (await posted).status_code == 200
    assert await ChargingProfile.objects.filter(station_id="CP_1", state="active").acount() == 1

    posted = asyncio.ensure_future(
        browser.post(
            "/stations/CP_1/actions/remote-start/",
            {"id_token": "TAG-9", "evse_id": "1"},
            headers=json,
        )
    )
    call = await station.answer({"status": "Accepted"})
    assert "chargingProfile" not in call[3]
    assert (await posted).status_code == 200
    await station.close()
