"""POST /api/stations/<id>/commands/<Action>/ in every outcome, with a station that answers; its
`?timeout=`; GET on the same URL for the default payload."""

from __future__ import annotations

import asyncio

import pytest
from django.test import AsyncClient, override_settings

from stations.models import Command
from tests.api_clients import make_user
from tests.ocpp_client import OcppTestClient

pytestmark = pytest.mark.django_db(transaction=True)

RESET = {"1.6": {"type": "Hard"}, "2.0.1": {"type": "Immediate"}}
RESET_DEFAULT = {"1.6": {"type": "Soft"}, "2.0.1": {"type": "OnIdle"}}  # never interrupts


@pytest.fixture
async def operator(transactional_db):
    return await make_user("operator", staff=True)


def post(client, action: str, payload, station: str = "CP_1"):
    return client.post(
        f"/api/stations/{station}/commands/{action}/", payload, content_type="application/json"
    )


async def test_the_stations_answer_is_the_response(booted, operator, version):
    request = asyncio.create_task(post(operator, "Reset", RESET[version]))
    call = await booted.receive()
    assert call[2:] == ["Reset", RESET[version]]
    await booted.send([3, call[1], {"status": "Accepted"}])
    response = await request
    assert (response.status_code, response.json()) == (200, {"status": "Accepted"})
    command = await Command.objects.select_related("requested_by").aget()
    assert (command.action, command.outcome, getattr(command.requested_by, "username", None)) == (
        "Reset",
        "answered",
        "operator",
    )
    assert command.response == {"status": "Accepted"} and (command.duration_ms or 0) > 0


async def test_an_invalid_payload_is_400_and_never_sent(booted, operator):
    response = await post(operator, "Reset", {"type": "Gentle"})
    assert response.status_code == 400 and "type" in response.json()["message"]
    assert "currentTime" in await booted.heartbeat()  # the next frame is our own: nothing was sent
    assert not await Command.objects.aexists()


async def test_a_body_that_is_not_an_object_is_400(booted, operator):
    response = await post(operator, "Reset", [1, 2])
    assert response.status_code == 400 and response.json()["error_code"] == 400


async def test_an_action_the_version_lacks_is_404_with_the_valid_ones(booted, operator, version):
    other = "GetVariables" if version == "1.6" else "GetConfiguration"
    response = await post(operator, other, {})
    body = response.json()
    assert response.status_code == 404 and other in body["message"]
    assert "Reset" in body["valid_actions"] and other not in body["valid_actions"]


async def test_an_unknown_station_is_404(operator):
    response = await post(operator, "Reset", {"type": "Hard"}, station="NOBODY")
    assert response.status_code == 404 and "NOBODY" in response.json()["message"]


async def test_a_call_error_is_502_with_its_code(booted, operator):
    request = asyncio.create_task(post(operator, "ClearCache", {}))
    call = await booted.receive()
    await booted.send([4, call[1], "NotSupported", "No cache here", {}])
    response = await request
    body = response.json()
    assert response.status_code == 502
    assert (body["ocpp_error_code"], body["ocpp_error_description"]) == (
        "NotSupported",
        "No cache here",
    )


async def test_an_invalid_answer_is_502_with_the_stations_payload(booted, operator):
    request = asyncio.create_task(post(operator, "ClearCache", {}))
    call = await booted.receive()
    await booted.send([3, call[1], {"status": "Perhaps"}])
    response = await request
    assert response.status_code == 502 and response.json()["station_payload"] == {
        "status": "Perhaps"
    }


async def test_a_station_that_is_not_connected_is_503(make_station, operator):
    await make_station("CP_1")
    response = await post(operator, "ClearCache", {})
    assert response.status_code == 503
    assert response.json() == {"error_code": 503, "message": "No such Charge Point. [CP_1]"}


@override_settings(OCPP_CALL_TIMEOUT=0.3)
async def test_a_station_that_does_not_answer_is_504(booted, operator):
    response = await post(operator, "ClearCache", {})
    assert response.status_code == 504
    assert (await Command.objects.aget()).outcome == "timeout"
    await booted.receive()  # the CALL went out


async def test_drivers_and_anonymous_users_cannot_send_commands(booted, transactional_db):
    driver = await make_user("driver")
    assert (await post(driver, "ClearCache", {})).status_code == 403
    assert (await post(AsyncClient(), "ClearCache", {})).status_code == 401
    assert "currentTime" in await booted.heartbeat()  # nothing was sent


async def test_a_reservation_refused_with_a_call_error_is_502(make_station, transactional_db):
    driver = await make_user("driver", token="CARD-D")
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    request = asyncio.create_task(
        driver.post(
            "/api/reservations/",
            {"station": "CP_1", "evse_id": 1, "id_token": "CARD-D"},
            content_type="application/json",
        )
    )
    call = await client.receive()
    await client.send([4, call[1], "InternalError", "Reservation store full", {}])
    response = await request
    assert response.status_code == 502 and response.json()["reservation"]["status"] == "rejected"
    await client.close()


# --- ?timeout= and the default payload (GET) -------------------------------------------------------


async def test_a_timeout_in_the_query_is_the_stations_time_to_answer(booted, operator):
    """Without it the station would have OCPP_CALL_TIMEOUT (30 s) here."""
    async with asyncio.timeout(5):
        response = await operator.post(
            "/api/stations/CP_1/commands/ClearCache/?timeout=0.3",
            {},
            content_type="application/json",
        )
    assert response.status_code == 504
    assert (await Command.objects.aget()).outcome == "timeout"
    await booted.receive()  # the CALL went out


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "301"])
async def test_an_invalid_timeout_is_400_and_nothing_is_sent(booted, operator, value):
    response = await operator.post(
        f"/api/stations/CP_1/commands/ClearCache/?timeout={value}",
        {},
        content_type="application/json",
    )
    assert response.status_code == 400 and "timeout" in response.json()["message"]
    assert "currentTime" in await booted.heartbeat()


async def test_get_answers_the_default_payload_without_sending_it(booted, operator, version):
    response = await operator.get("/api/stations/CP_1/commands/Reset/")
    assert response.status_code == 200
    assert response.json() == {
        "station": "CP_1",
        "protocol": version,
        "action": "Reset",
        "payload": RESET_DEFAULT[version],
    }
    assert "currentTime" in await booted.heartbeat()  # nothing was sent
    assert not await Command.objects.aexists()


async def test_get_of_an_action_without_a_default_is_400(booted, operator, version):
    stop = "RequestStopTransaction" if version == "2.0.1" else "RemoteStopTransaction"
    response = await operator.get(f"/api/stations/CP_1/commands/{stop}/")
    body = response.json()
    assert response.status_code == 400
    assert "no active transaction" in body["message"] and "in the request body" in body["message"]


async def test_get_of_an_unknown_station_or_action_is_404(booted, operator, version):
    other = "GetVariables" if version == "1.6" else "GetConfiguration"
    response = await operator.get(f"/api/stations/CP_1/commands/{other}/")
    assert response.status_code == 404 and "Reset" in response.json()["valid_actions"]
    response = await operator.get("/api/stations/NOBODY/commands/Reset/")
    assert response.status_code == 404


async def test_a_station_that_never_connected_has_no_default(make_station, operator):
    await make_station("CP_NEW")
    response = await operator.get("/api/stations/CP_NEW/commands/Reset/")
    assert response.status_code == 400 and "never connected" in response.json()["message"]


async def test_drivers_cannot_read_defaults_either(booted, transactional_db):
    driver = await make_user("driver")
    assert (await driver.get("/api/stations/CP_1/commands/Reset/")).status_code == 403
