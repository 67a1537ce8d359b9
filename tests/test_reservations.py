"""Reservations end to end through the REST API, with a station that answers for real."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import AsyncClient, override_settings

from reservations import services
from reservations.models import Reservation
from stations.clock import utcnow
from stations.models import Command, Connector, Station
from tests.api_clients import make_user
from tests.ocpp_client import OcppTestClient, status_payload

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(identity: str, version: str, *connectors: int) -> OcppTestClient:
    client, connected, _ = await OcppTestClient.open(identity, version)
    assert connected
    await client.boot()
    for connector in connectors:
        await client.result("StatusNotification", status_payload(version, connector))
    return client


async def answer_next(station: OcppTestClient, action: str, status: str) -> list:
    call = await station.receive()
    assert call[0] == 2 and call[2] == action, call
    await station.send([3, call[1], {"status": status}])
    return call


@pytest.fixture
async def driver(transactional_db):
    return await make_user("driver", token="CARD-D")


async def test_a_driver_reserves_a_named_station_and_sees_its_answer(make_station, driver, version):
    await make_station("CP_1")
    station = await connect("CP_1", version, 1)
    request = asyncio.create_task(
        driver.post(
            "/api/reservations/", {"station": "CP_1", "id_token": "CARD-D"}, "application/json"
        )
    )
    call = await answer_next(station, "ReserveNow", "Accepted")
    response = await request
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["station_status"], body["station"]) == (
        "accepted",
        "Accepted",
        "CP_1",
    )
    payload = call[3]
    if version == "1.6":
        assert payload["reservationId"] == body["id"] and payload["idTag"] == "CARD-D"
        assert payload["connectorId"] == 1 and payload["expiryDate"].endswith("Z")
    else:
        assert payload["id"] == body["id"] and payload["idToken"]["idToken"] == "CARD-D"
        assert payload["evseId"] == 1 and payload["expiryDateTime"].endswith("Z")
    assert await Command.objects.filter(action="ReserveNow", source="reservation").aexists()
    await station.close()


async def test_without_a_station_the_csms_picks_one_with_an_available_connector(
    make_station, driver
):
    await make_station("CP_A")
    await make_station("CP_B")
    busy = await connect("CP_A", "2.0.1")
    await busy.result("StatusNotification", status_payload("2.0.1", 1, "Occupied"))
    free = await connect("CP_B", "1.6", 2)
    request = asyncio.create_task(
        driver.post("/api/reservations/", {"id_token": "CARD-D"}, "application/json")
    )
    call = await answer_next(free, "ReserveNow", "Accepted")
    assert call[3]["connectorId"] == 2
    response = await request
    assert response.status_code == 201 and response.json()["station"] == "CP_B"
    await busy.close()
    await free.close()


@pytest.mark.parametrize("answer", ["Occupied", "Faulted", "Unavailable", "Rejected"])
async def test_a_station_that_refuses_gives_409_with_its_status(make_station, driver, answer):
    await make_station("CP_1")
    station = await connect("CP_1", "2.0.1", 1)
    request = asyncio.create_task(
        driver.post(
            "/api/reservations/", {"station": "CP_1", "id_token": "CARD-D"}, "application/json"
        )
    )
    await answer_next(station, "ReserveNow", answer)
    response = await request
    assert response.status_code == 409
    body = response.json()
    assert body["error_code"] == 409 and body["station_status"] == answer
    assert body["reservation"]["status"] == answer.lower()
    await station.close()


async def test_nothing_available_is_503(driver):
    response = await driver.post("/api/reservations/", {"id_token": "CARD-D"}, "application/json")
    assert response.status_code == 503
    assert response.json()["error_code"] == 503 and "available" in response.json()["message"]


async def test_a_named_station_that_is_not_connected_is_503(make_station, driver):
    await make_station("CP_9")
    response = await driver.post(
        "/api/reservations/", {"station": "CP_9", "id_token": "CARD-D"}, "application/json"
    )
    assert response.status_code == 503
    assert response.json() == {"error_code": 503, "message": "No such Charge Point. [CP_9]"}


@override_settings(OCPP_CALL_TIMEOUT=0.3)
async def test_a_station_that_does_not_answer_is_504_and_no_response(make_station, driver):
    await make_station("CP_1")
    station = await connect("CP_1", "1.6", 1)
    response = await driver.post(
        "/api/reservations/", {"station": "CP_1", "id_token": "CARD-D"}, "application/json"
    )
    assert response.status_code == 504
    assert response.json()["reservation"]["status"] == "no_response"
    await station.receive()  # the ReserveNow did go out
    await station.close()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "id_token"),
        ({"id_token": "CARD-D", "expiry": "2001-01-01T00:00:00Z"}, "expiry"),
        ({"id_token": "CARD-D", "evse_id": 0}, "evse_id"),
        ({"id_token": "SOMEONE-ELSES"}, "id_token"),
        ({"id_token": "CARD-D", "expiry": "soon"}, "expiry"),
    ],
)
async def test_an_invalid_request_is_400_naming_the_field(driver, body, field):
    response = await driver.post("/api/reservations/", body, "application/json")
    assert response.status_code == 400
    assert response.json()["error_code"] == 400 and field in response.json()["errors"]


async def test_a_named_connector_is_never_double_booked(make_station, driver):
    await make_station("CP_1")
    station = await connect("CP_1", "2.0.1", 1)
    first = asyncio.create_task(
        driver.post(
            "/api/reservations/",
            {"station": "CP_1", "evse_id": 1, "id_token": "CARD-D"},
            "application/json",
        )
    )
    await answer_next(station, "ReserveNow", "Accepted")
    assert (await first).status_code == 201
    second = await driver.post(
        "/api/reservations/",
        {"station": "CP_1", "evse_id": 1, "id_token": "CARD-D"},
        "application/json",
    )
    assert second.status_code == 409 and "already reserved" in second.json()["message"]
    await station.close()


def test_concurrent_claims_for_one_connector_give_it_to_exactly_one(transactional_db):
    """Real threads, each with its own database connection, race for the same connector."""
    station = Station.objects.create(id="CP_1", connected=True, registration_status="Accepted")
    Connector.objects.create(station=station, evse_id=1, status="Available")
    start = threading.Barrier(6)

    def claim(n: int) -> str:
        start.wait()
        try:
            asked = services.ReservationRequest(f"T{n}", utcnow() + timedelta(minutes=5))
            services.reservation_claim(user=None, request=asked)
            return "claimed"
        except services.NothingAvailable:
            return "nothing"
        finally:
            connection.close()

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(claim, range(6)))
    assert outcomes.count("claimed") == 1 and outcomes.count("nothing") == 5
    assert Reservation.objects.count() == 1


async def test_re_reserving_with_the_same_id_replaces_it(make_station, driver):
    await make_station("CP_1")
    station = await connect("CP_1", "2.0.1", 1, 2)
    request = asyncio.create_task(
        driver.post(
            "/api/reservations/",
            {"station": "CP_1", "evse_id": 1, "id_token": "CARD-D"},
            "application/json",
        )
    )
    await answer_next(station, "ReserveNow", "Accepted")
    first = (await request).json()
    later = (utcnow() + timedelta(hours=1)).isoformat()
    request = asyncio.create_task(
        driver.post(
            "/api/reservations/",
            {"id": first["id"], "evse_id": 2, "id_token": "CARD-D", "expiry": later},
            "application/json",
        )
    )
    call = await answer_next(station, "ReserveNow", "Accepted")
    assert call[3]["id"] == first["id"] and call[3]["evseId"] == 2
    second = (await request).json()
    assert second["id"] == first["id"] and second["evse_id"] == 2
    assert await Reservation.objects.acount() == 1
    await station.close()


async def test_re_reserving_by_id_alone_keeps_the_connector_picked_before(make_station, driver):
    await make_station("CP_1")
    station = await connect("CP_1", "1.6", 1)
    request = asyncio.create_task(
        driver.post("/api/reservations/", {"id_token": "CARD-D"}, "application/json")
    )
    await answer_next(station, "ReserveNow", "Accepted")
    first = (await request).json()
    assert (first["evse_id"], first["connector_id"]) == (1, 1)
    request = asyncio.create_task(
        driver.post(
            "/api/reservations/", {"id": first["id"], "id_token": "CARD-D"}, "application/json"
        )
    )
    await answer_next(station, "ReserveNow", "Accepted")
    second = (await request).json()
    assert (second["id"], second["evse_id"], second["connector_id"]) == (first["id"], 1, 1)
    await station.close()


@pytest.mark.parametrize("how", ["delete", "post"])
async def test_cancelling_sends_cancel_reservation(make_station, driver, how):
    await make_station("CP_1")
    station = await connect("CP_1", "1.6", 1)
    request = asyncio.create_task(
        driver.post(
            "/api/reservations/", {"station": "CP_1", "id_token": "CARD-D"}, "application/json"
        )
    )
    await answer_next(station, "ReserveNow", "Accepted")
    reservation_id = (await request).json()["id"]
    url = f"/api/reservations/{reservation_id}/"
    cancel = asyncio.create_task(
        driver.delete(url) if how == "delete" else driver.post(url + "cancel/")
    )
    call = await answer_next(station, "CancelReservation", "Accepted")
    assert call[3] == {"reservationId": reservation_id}
    response = await cancel
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = await driver.delete(url)
    assert again.status_code == 409
    await station.close()


async def test_a_reservation_expires_on_the_servers_clock(make_station, driver):
    station = await make_station("CP_1")
    user = await get_user_model().objects.aget(username="driver")
    reservation = await Reservation.objects.acreate(
        station=station,
        evse_id=1,
        id_token="CARD-D",
        user=user,
        expires_at=utcnow() - timedelta(seconds=1),
        status="accepted",
    )
    response = await driver.get(f"/api/reservations/{reservation.pk}/")
    assert response.json()["status"] == "expired"
    assert await database_sync_to_async(services.reservation_expire_due)() == 0


async def test_drivers_see_and_cancel_only_their_own(make_station, driver):
    station = await make_station("CP_1")
    other = await make_user("other", token="CARD-O")
    staff = await make_user("operator", staff=True)
    owner = await get_user_model().objects.aget(username="driver")
    mine = await Reservation.objects.acreate(
        station=station,
        evse_id=1,
        id_token="CARD-D",
        user=owner,
        expires_at=utcnow() + timedelta(minutes=5),
        status="accepted",
    )
    assert [r["id"] for r in (await driver.get("/api/reservations/")).json()["results"]] == [
        mine.pk
    ]
    assert (await other.get("/api/reservations/")).json()["results"] == []
    assert (await other.get(f"/api/reservations/{mine.pk}/")).status_code == 404
    assert (await other.delete(f"/api/reservations/{mine.pk}/")).status_code == 404
    assert len((await staff.get("/api/reservations/")).json()["results"]) == 1
    assert (await AsyncClient().get("/api/reservations/")).status_code == 401


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_station_that_reported_no_connector_yet_picks_one_itself(
    make_station, driver, version
):
    await make_station("CP_1")
    station = await connect("CP_1", version)  # booted, no StatusNotification yet
    request = asyncio.create_task(driver.post("/api/stations/CP_1/reserve/"))
    call = await answer_next(station, "ReserveNow", "Accepted")
    if version == "1.6":
        assert call[3]["connectorId"] == 0  # "any connector"
    else:
        assert "evseId" not in call[3]
    assert (await request).status_code == 201
    await station.close()


async def test_the_quick_form_answers_like_the_seed(make_station, driver):
    await make_station("CP_1")
    station = await connect("CP_1", "2.0.1", 1)
    request = asyncio.create_task(driver.post("/api/stations/CP_1/reserve/"))
    await answer_next(station, "ReserveNow", "Accepted")
    response = await request
    assert response.status_code == 201 and response.json()["status"] == "Accepted"
    await station.close()
    missing = await driver.post("/api/stations/CP_404/reserve/")
    assert missing.status_code == 503
    assert missing.json() == {"error_code": 503, "message": "No such Charge Point. [CP_404]"}


NOT_AVAILABLE = [
    ("1.6", "Charging"),
    ("1.6", "Faulted"),
    ("1.6", "Reserved"),
    ("2.0.1", "Occupied"),
    ("2.0.1", "Unavailable"),
    ("2.0.1", "Reserved"),
]


@pytest.mark.parametrize(("version", "status"), NOT_AVAILABLE)
async def test_a_named_evse_the_csms_knows_is_not_available_is_503_without_asking(
    make_station, driver, version, status
):
    """Issue 13.4 (seed 001): "no charging station available" is a 503, also when the driver names
    an EVSE whose last status is not Available; the station is not asked."""
    await make_station("CP_1")
    station = await connect("CP_1", version)
    await station.result("StatusNotification", status_payload(version, 1, status))
    response = await driver.post(
        "/api/reservations/",
        {"station": "CP_1", "evse_id": 1, "id_token": "CARD-D"},
        "application/json",
    )
    assert response.status_code == 503, response.json()
    assert response.json()["message"] == f"EVSE 1 of CP_1 is {status}."
    assert not await Command.objects.filter(action="ReserveNow").aexists()
    assert not await Reservation.objects.aexists()
    await station.close()


async def test_a_named_evse_the_station_never_reported_is_still_asked(make_station, driver):
    """Unknown is not unavailable: the station decides."""
    await make_station("CP_1")
    station = await connect("CP_1", "2.0.1")
    request = asyncio.create_task(
        driver.post(
            "/api/reservations/",
            {"station": "CP_1", "evse_id": 2, "id_token": "CARD-D"},
            "application/json",
        )
    )
    await answer_next(station, "ReserveNow", "Accepted")
    assert (await request).status_code == 201
    await station.close()
