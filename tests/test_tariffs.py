"""Tariffs and cost (OCPP 2.0.1 block I, CSMS side; 1.6 sessions priced alike).

- the price of a session: a pure function (session fee, energy, charging time, idle beyond a
  grace period, VAT, the currency's minor unit), and the rule of charging and idle time
  (SuspendedEVSE, the station's or the CSMS's throttle, is never idle);
- which tariff applies: the station's, its site's, the default site's, the network's, or none;
- in process, over OCPP: I01 the tariff in Authorize's personalMessage; I03.FR.02 (after
  I03.FR.01) totalCost on TransactionEvent Ended — 0.00 for a free tariff, omitted without one
  (OCPP reads an omitted totalCost as "not free"); a session keeps the prices in force at its
  start; I02.FR.01 the running cost sent with CostUpdated (TC_I_01_CSMS), again only when it has
  moved; 1.6 sessions priced from StatusNotification's charging states;
- REST (tariffs, assignments, the cost on a transaction, session costs, the billing CSV) and the
  dashboard's tariffs page.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import AsyncClient
from rest_framework.test import APIClient

from sites.models import Placement, Site
from stations.models import Station, Transaction
from stations.services import charging_time
from tariffs import running, services
from tariffs.models import SessionCost, Tariff, TariffAssignment
from tariffs.pricing import Prices, Usage, describe, price
from tests.ocpp_client import OcppTestClient

db = pytest.mark.django_db(transaction=True)
T0 = datetime.datetime(2026, 12, 4, 12, 0, tzinfo=datetime.UTC)


def at(minutes: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


# --- the price of a session ---------------------------------------------------------------------

EUR = Prices(
    "EUR",
    session_fee=Decimal("1.00"),
    energy_per_kwh=Decimal("0.30"),
    time_per_hour=Decimal("1.20"),
    idle_per_minute=Decimal("0.10"),
    idle_grace_minutes=10,
    vat_percent=Decimal("20"),
)


def test_a_session_costs_its_fee_energy_time_and_idle_beyond_the_grace_plus_vat():
    cost = price(EUR, Usage(energy_wh=12_345, charging_seconds=5400, idle_seconds=25 * 60))
    assert (cost.session_fee, cost.energy, cost.time, cost.idle) == (
        Decimal("1.00"),
        Decimal("3.70"),  # 12.345 kWh x 0.30 = 3.7035
        Decimal("1.80"),  # 1.5 h x 1.20
        Decimal("1.50"),  # 15 min beyond the 10 of grace x 0.10
    )
    assert (cost.net, cost.vat, cost.total) == (Decimal("8.00"), Decimal("1.60"), Decimal("9.60"))


def test_idle_within_the_grace_costs_nothing_and_minor_units_follow_the_currency():
    assert price(EUR, Usage(0, 0, 9 * 60)).idle == 0
    yen = Prices("JPY", energy_per_kwh=Decimal("45"), vat_percent=Decimal("10"))
    cost = price(yen, Usage(energy_wh=10_010, charging_seconds=0, idle_seconds=0))
    assert (cost.energy, cost.vat, cost.total) == (Decimal("450"), Decimal("45"), Decimal("495"))


def test_a_free_tariff_costs_zero_and_says_so():
    free = Prices("EUR")
    assert price(free, Usage(50_000, 3600, 3600)).total == 0
    assert describe(free) == "Free charging"


def test_the_drivers_text_shows_prices_with_vat():
    assert describe(EUR) == (
        "0.36 EUR/kWh, 1.44 EUR/h charging, 1.20 EUR per session, "
        "idle 0.12 EUR/min after 10 min incl. VAT"
    )


def test_charging_and_idle_time_follow_the_charging_state():
    tx = Transaction(started_at=T0)
    charging_time.change_state(tx, "EVConnected", at(0))  # waiting before charging: not idle
    charging_time.change_state(tx, "Charging", at(5))
    charging_time.change_state(tx, "SuspendedEVSE", at(35))  # held back by the station
    charging_time.change_state(tx, "Charging", at(45))
    charging_time.change_state(tx, "SuspendedEV", at(75))  # the EV is full
    assert charging_time.times(tx, at(95)) == (60 * 60, 20 * 60)
    charging_time.change_state(tx, "Charging", at(50))  # late news (queued offline): no change
    assert charging_time.times(tx, at(95)) == (60 * 60, 20 * 60)
    charging_time.close(tx, at(100))
    assert (tx.charging_seconds, tx.idle_seconds, tx.state_since) == (3600, 25 * 60, None)


# --- which tariff applies -----------------------------------------------------------------------


@db
def test_the_stations_tariff_outranks_its_sites_which_outranks_the_networks():
    station = Station.objects.create(id="CP_1")
    assert services.tariff_for("CP_1") is None  # nothing anywhere: the cost is not known
    network = Tariff.objects.create(name="Network", is_default=True)
    assert services.tariff_for("CP_1") == network
    default_site = Site.objects.get_or_create(is_default=True, defaults={"name": "Default"})[0]
    unplaced = Tariff.objects.create(name="Default site")
    TariffAssignment.objects.create(tariff=unplaced, site=default_site)
    assert services.tariff_for("CP_1") == unplaced
    site = Site.objects.create(name="Depot")
    Placement.objects.create(station=station, site=site)
    assert services.tariff_for("CP_1") == network  # placed: the default site's no longer counts
    depot = Tariff.objects.create(name="Depot")
    TariffAssignment.objects.create(tariff=depot, site=site)
    assert services.tariff_for("CP_1") == depot
    own = Tariff.objects.create(name="Own")
    TariffAssignment.objects.create(tariff=own, station=station)
    assert services.tariff_for("CP_1") == own


# --- over OCPP 2.0.1 ----------------------------------------------------------------------------


def event(event_type: str, seq_no: int, trigger: str, **extra: Any) -> dict[str, Any]:
    info = {"transactionId": "TX-1", **extra.pop("info", {})}
    return {
        "eventType": event_type,
        "timestamp": extra.pop("timestamp", datetime.datetime.now(datetime.UTC).isoformat()),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": info,
        **extra,
    }


def meter(wh: float, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    return [
        {
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            "sampledValue": [{"value": wh, "context": context}],
        }
    ]


async def until_priced(transaction_id: str = "TX-1") -> SessionCost:
    """The session's prices are kept after the Started event's answer (an after-hook)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        row = await SessionCost.objects.filter(transaction__ocpp_id=transaction_id).afirst()
        if row is not None:
            return row
        assert asyncio.get_running_loop().time() < deadline, "the session was never priced"
        await asyncio.sleep(0.02)


async def energy_tariff(**changes: Any) -> Tariff:
    values = {"name": "Energy", "energy_per_kwh": Decimal("0.25"), "vat_percent": Decimal("20")}
    values.update(changes)
    tariff = await Tariff.objects.acreate(is_default=True, **values)
    return tariff


async def open_201(make_station: Any) -> OcppTestClient:
    await make_station("CP_1")
    station, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await station.boot()
    return station


async def start_session(station: OcppTestClient, begin_wh: float = 1000) -> dict:
    return await station.result(
        "TransactionEvent",
        event(
            "Started",
            0,
            "Authorized",
            info={"chargingState": "Charging"},
            evse={"id": 1, "connectorId": 1},
            idToken={"idToken": "TAG-1", "type": "ISO14443"},
            meterValue=meter(begin_wh, "Transaction.Begin"),
        ),
    )


async def end_session(station: OcppTestClient, end_wh: float, seq_no: int = 9) -> dict:
    return await station.result(
        "TransactionEvent",
        event(
            "Ended",
            seq_no,
            "EVCommunicationLost",
            info={"chargingState": "Idle", "stoppedReason": "EVDisconnected"},
            meterValue=meter(end_wh, "Transaction.End"),
        ),
    )


@db
async def test_i03_fr_02_the_ended_answer_carries_the_final_cost(make_station):
    """TC_I_02_CSMS: a tariff on energy; the session meters 1000 Wh at its begin and 6000 at its
    end: 5 kWh x 0.25 + 20 % VAT = 1.50, stored as the session's final cost."""
    await energy_tariff()
    station = await open_201(make_station)
    await start_session(station, 1000)
    answer = await end_session(station, 6000)
    assert answer["totalCost"] == 1.5
    cost = await SessionCost.objects.aget(transaction__ocpp_id="TX-1")
    assert (cost.final, cost.total, cost.energy_wh) == (True, Decimal("1.5"), 5000)
    # A resent Ended event is answered with the same cost, not priced again.
    again = await station.result(
        "TransactionEvent",
        event("Ended", 9, "EVCommunicationLost", info={"stoppedReason": "EVDisconnected"}),
    )
    assert again["totalCost"] == 1.5
    await station.close()


@db
async def test_a_free_tariff_answers_zero_and_no_tariff_answers_no_cost(make_station):
    """totalCost 0.00 tells a free session; omitted, it means "not free" (the CSMS does not know
    the cost), which is what the CSMS answers when no tariff applies."""
    station = await open_201(make_station)
    await start_session(station)
    assert "totalCost" not in await end_session(station, 2000)
    await Tariff.objects.acreate(name="Free", is_default=True)
    await station.result(
        "TransactionEvent",
        event("Started", 0, "Authorized", info={"transactionId": "TX-2"}, evse={"id": 1}),
    )
    ended = await station.result(
        "TransactionEvent", event("Ended", 1, "StopAuthorized", info={"transactionId": "TX-2"})
    )
    assert ended["totalCost"] == 0
    await station.close()


@db
async def test_i01_the_tariff_is_in_the_drivers_personal_message(make_station):
    await energy_tariff(display_text="0.30 EUR/kWh incl. VAT")
    await Station.objects.acreate(id="CP_2")
    station = await open_201(make_station)
    from stations.models import IdToken

    await IdToken.objects.acreate(token="TAG-1", status="Accepted")
    answer = await station.result(
        "Authorize", {"idToken": {"idToken": "TAG-1", "type": "ISO14443"}}
    )
    assert answer["idTokenInfo"]["personalMessage"] == {
        "format": "UTF8",
        "content": "0.30 EUR/kWh incl. VAT",
    }
    refused = await station.result(
        "Authorize", {"idToken": {"idToken": "NOPE", "type": "ISO14443"}}
    )
    assert refused["idTokenInfo"]["status"] != "Accepted"
    assert "personalMessage" not in refused["idTokenInfo"]
    started = await start_session(station)
    assert started["idTokenInfo"]["personalMessage"]["content"] == "0.30 EUR/kWh incl. VAT"
    await station.close()


@db
async def test_a_session_keeps_the_prices_in_force_when_it_started(make_station):
    tariff = await energy_tariff()
    station = await open_201(make_station)
    await start_session(station, 0)
    kept = await until_priced()
    assert kept.prices["energy_per_kwh"] == "0.2500"
    tariff.energy_per_kwh = Decimal("1.00")
    await tariff.asave()
    answer = await end_session(station, 10_000)
    assert answer["totalCost"] == 3.0  # 10 kWh at the old 0.25, + 20 %
    await station.close()


@db
async def test_i02_fr_01_the_running_cost_is_sent_with_cost_updated(make_station):
    """TC_I_01_CSMS: periodic meter values, then CostUpdated with the session's transactionId and
    its cost so far; the next tick sends nothing until the cost has moved."""
    await energy_tariff(vat_percent=Decimal("0"))
    station = await open_201(make_station)
    await start_session(station, 1000)
    await until_priced()
    for seq_no, wh in ((1, 3000), (2, 5000)):
        await station.result(
            "TransactionEvent",
            event("Updated", seq_no, "MeterValuePeriodic", info={"chargingState": "Charging"},
                  meterValue=meter(wh)),
        )  # fmt: skip
    tick = asyncio.ensure_future(running.tick())
    call = await station.answer({})
    assert call[2:] == ["CostUpdated", {"totalCost": 1.0, "transactionId": "TX-1"}]
    assert await tick == "sent 1 of 1 running costs"
    told = await SessionCost.objects.aget(transaction__ocpp_id="TX-1")
    assert told.sent_total == Decimal("1.0") and told.sent_at is not None
    assert await running.tick() == ""  # nothing has moved
    await station.result(
        "TransactionEvent",
        event("Updated", 3, "MeterValuePeriodic", meterValue=meter(7000)),
    )
    tick = asyncio.ensure_future(running.tick())
    call = await station.answer({})
    assert call[3] == {"totalCost": 1.5, "transactionId": "TX-1"}
    await tick
    await station.close()


@db
async def test_the_running_cost_can_be_sent_from_the_station_page(make_station):
    """The declaration's form: the operator picks the session, the CSMS computes its cost."""
    await energy_tariff(vat_percent=Decimal("0"))
    station = await open_201(make_station)
    await start_session(station, 0)
    await station.result(
        "TransactionEvent", event("Updated", 1, "MeterValuePeriodic", meterValue=meter(4000))
    )
    await get_user_model().objects.acreate_user("op", password="pw", is_staff=True)
    browser = AsyncClient()
    await browser.alogin(username="op", password="pw")
    page = (await browser.get("/stations/CP_1/")).content.decode()
    assert 'data-action="cost-updated"' in page and "1.00 EUR so far" in page
    posted = asyncio.ensure_future(
        browser.post(
            "/stations/CP_1/actions/cost-updated/",
            {"transaction_id": "TX-1"},
            headers={"accept": "application/json"},
        )
    )
    call = await station.answer({})
    assert call[2:] == ["CostUpdated", {"totalCost": 1.0, "transactionId": "TX-1"}]
    assert (await posted).json()["ok"] is True
    await station.close()


# --- over OCPP 1.6 ------------------------------------------------------------------------------


@db
async def test_a_16_session_is_priced_with_its_charging_and_idle_time(make_station):
    """1.6 has no cost field: the final cost is stored. Its connector's StatusNotifications
    (Charging, SuspendedEV) are the session's charging states."""
    await Tariff.objects.acreate(
        name="Time", is_default=True, time_per_hour=Decimal("6"), idle_per_minute=Decimal("0.5")
    )
    await make_station("CP_1")
    station, _, _ = await OcppTestClient.open("CP_1", "1.6")
    await station.boot()
    started = await station.result(
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": at(0).isoformat()},
    )
    for minutes, status in ((0, "Charging"), (30, "SuspendedEV")):
        await station.result(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": status,
             "timestamp": at(minutes).isoformat()},
        )  # fmt: skip
    await station.result(
        "StopTransaction",
        {"transactionId": started["transactionId"], "meterStop": 8000,
         "timestamp": at(40).isoformat()},
    )  # fmt: skip
    deadline = asyncio.get_running_loop().time() + 10
    while not await SessionCost.objects.filter(final=True).aexists():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    cost = await SessionCost.objects.aget()
    # 30 min charging x 6/h = 3.00; 10 min idle x 0.50 = 5.00
    assert (cost.charging_seconds, cost.idle_seconds) == (1800, 600)
    assert (cost.time_cost, cost.idle_cost, cost.total) == (
        Decimal("3.00"),
        Decimal("5.00"),
        Decimal("8.00"),
    )
    await station.close()


# --- REST and the dashboard ---------------------------------------------------------------------


@pytest.fixture
def operator(transactional_db):
    from rest_framework.test import APIClient

    user = get_user_model().objects.create_user("op", password="pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


@db
def test_rest_tariffs_are_checked_and_assigned_to_a_site_or_a_station(operator):
    bad = operator.post("/api/tariffs/", {"name": "X", "currency": "EURO"}, format="json")
    assert bad.status_code == 400 and "currency" in bad.json()["errors"]
    negative = operator.post("/api/tariffs/", {"name": "X", "energy_per_kwh": -1}, format="json")
    assert negative.status_code == 400 and "energy_per_kwh" in negative.json()["errors"]
    vat = operator.post("/api/tariffs/", {"name": "X", "vat_percent": 120}, format="json")
    assert vat.status_code == 400
    made = operator.post(
        "/api/tariffs/",
        {"name": "Depot", "currency": "eur", "energy_per_kwh": "0.30", "vat_percent": "19"},
        format="json",
    )
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["currency"] == "EUR" and body["shown_as"] == "0.357 EUR/kWh incl. VAT"
    Station.objects.create(id="CP_1")
    site = Site.objects.create(name="Depot")
    neither = operator.post("/api/tariff-assignments/", {"tariff": body["id"]}, format="json")
    assert neither.status_code == 400
    both = operator.post(
        "/api/tariff-assignments/",
        {"tariff": body["id"], "site": site.pk, "station": "CP_1"},
        format="json",
    )
    assert both.status_code == 400
    one = operator.post(
        "/api/tariff-assignments/", {"tariff": body["id"], "station": "CP_1"}, format="json"
    )
    assert one.status_code == 201
    assert (tariff := services.tariff_for("CP_1")) is not None and tariff.name == "Depot"
    assert APIClient().get("/api/tariffs/").status_code in (401, 403)


def _ended_session(ocpp_id: str, stopped: datetime.datetime, energy_wh: float) -> Transaction:
    tx = Transaction.objects.create(
        station_id="CP_1",
        ocpp_id=ocpp_id,
        evse_id=1,
        started_at=stopped - datetime.timedelta(hours=1),
        stopped_at=stopped,
        is_active=False,
        energy_wh=energy_wh,
        id_token="TAG-1",
    )
    services.priced(tx)
    return tx


@db
def test_rest_shows_the_cost_on_the_transaction_and_exports_billing_csv(operator):
    Station.objects.create(id="CP_1")
    Tariff.objects.create(name="Energy", is_default=True, energy_per_kwh=Decimal("0.40"))
    first = _ended_session("A", at(60), 10_000)
    _ended_session("B", at(180), 2_500)
    Transaction.objects.create(station_id="CP_1", ocpp_id="C", evse_id=1, started_at=at(200))
    detail = operator.get(f"/api/transactions/{first.pk}/").json()
    assert detail["cost"]["total"] == "4.0000" and detail["cost"]["final"] is True
    listed = {
        t["transaction_id"]: t["cost"] for t in operator.get("/api/transactions/").json()["results"]
    }
    assert listed["C"] is None  # never priced (its start came before any tariff)
    costs = operator.get("/api/session-costs/", {"final": "true"}).json()["results"]
    assert [c["transaction_id"] for c in costs] == ["B", "A"]

    response = operator.get("/api/billing/sessions.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["transaction_id"], r["energy_kwh"], r["total"]) for r in rows] == [
        ("A", "10.000", "4.00"),
        ("B", "2.500", "1.00"),
    ]
    later = operator.get("/api/billing/sessions.csv", {"stopped_after": at(120).isoformat()})
    assert b"".join(later.streaming_content).decode().count("\n") == 2  # the header and B
    bad = operator.get("/api/billing/sessions.csv", {"stopped_after": "yesterday"})
    assert bad.status_code == 400 and "stopped_after" in bad.json()["message"]


@db
def test_the_tariffs_page_shows_prices_where_they_apply_and_priced_sessions(client):
    get_user_model().objects.create_user("op", password="pw", is_staff=True)
    client.login(username="op", password="pw")
    Station.objects.create(id="CP_1")
    tariff = Tariff.objects.create(name="Depot", energy_per_kwh=Decimal("0.30"))
    TariffAssignment.objects.create(tariff=tariff, station_id="CP_1")
    _ended_session("A", at(60), 10_000)
    page = client.get("/tariffs/").content.decode()
    assert f'data-tariff="{tariff.pk}"' in page and "0.30 EUR/kWh" in page
    assert "3.00 EUR" in page and "/api/billing/sessions.csv" in page
    station_page = client.get("/stations/CP_1/").content.decode()
    assert "Tariff <a" in station_page and "3.00 EUR" in station_page
