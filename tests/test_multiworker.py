"""The hard part of the REST API: the HTTP request is served by another worker process than the one
holding the station's socket, and the answer still comes back. Two real ASGI servers share the
database (PostgreSQL when DATABASE_URL says so, as CI runs it) and a Redis channel layer."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from stations.models import Command, IdToken, Station
from tests.conftest import require_service
from tests.ocpp_client import connect_ws
from tests.servers import AsgiServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def http(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@database_sync_to_async
def setup_data() -> tuple[str, str]:
    Station.objects.create(id="CP_FAR", registration_status="Accepted")
    operator = get_user_model().objects.create_user("operator", is_staff=True)
    driver = get_user_model().objects.create_user("driver")
    IdToken.objects.create(token="CARD-D", user=driver)
    return Token.objects.create(user=operator).key, Token.objects.create(user=driver).key


async def station_answering(ws, answers: dict[str, dict], seen: list) -> None:
    """Answer every CALL the CSMS sends with the canned payload for its action."""
    async for text in ws:
        frame = json.loads(text)
        if frame[0] == 2:
            seen.append(frame)
            await ws.send(json.dumps([3, frame[1], answers[frame[2]]]))


@pytest.fixture
def two_workers(transactional_db):
    require_service("Redis", "127.0.0.1", 6379)
    env = {"REDIS_URL": "redis://127.0.0.1:6379/13"}
    workers = [AsgiServer("daphne", env).start(), AsgiServer("uvicorn", env).start()]
    yield workers
    for worker in workers:
        worker.stop()


async def test_rest_calls_on_one_worker_reach_a_station_on_the_other(two_workers):
    socket_worker, http_worker = two_workers
    operator, driver = await setup_data()
    async with await connect_ws(socket_worker.url, "CP_FAR") as ws:
        boot = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}
        await ws.send(json.dumps([2, "b", "BootNotification", boot]))
        assert json.loads(await ws.recv())[2]["status"] == "Accepted"
        status = {
            "timestamp": "2026-01-01T00:00:00Z",
            "connectorStatus": "Available",
            "evseId": 1,
            "connectorId": 1,
        }
        await ws.send(json.dumps([2, "s", "StatusNotification", status]))
        await ws.recv()

        seen: list = []
        answers = {
            "Reset": {"status": "Scheduled"},
            "ReserveNow": {"status": "Accepted"},
            "CancelReservation": {"status": "Accepted"},
        }
        station = asyncio.create_task(station_answering(ws, answers, seen))
        base = http_worker.http_url

        code, body = await asyncio.to_thread(
            http,
            "POST",
            f"{base}/api/stations/CP_FAR/commands/Reset/",
            operator,
            {"type": "OnIdle"},
        )
        assert (code, body) == (200, {"status": "Scheduled"})

        code, body = await asyncio.to_thread(
            http, "POST", f"{base}/api/reservations/", driver, {"id_token": "CARD-D"}
        )
        assert code == 201 and body["station"] == "CP_FAR" and body["station_status"] == "Accepted"

        code, body = await asyncio.to_thread(
            http, "DELETE", f"{base}/api/reservations/{body['id']}/", driver
        )
        assert code == 200 and body["status"] == "cancelled"

        code, body = await asyncio.to_thread(
            http, "POST", f"{base}/api/stations/CP_FAR/commands/Reset/", operator, {"type": "Soft"}
        )
        assert code == 400 and "type" in body["message"]  # 2.0.1 has no Soft reset: never sent
        station.cancel()

    assert [frame[2] for frame in seen] == ["Reset", "ReserveNow", "CancelReservation"]
    recorded = [c async for c in Command.objects.order_by("id").values_list("action", "outcome")]
    assert recorded == [
        ("Reset", "answered"),
        ("ReserveNow", "answered"),
        ("CancelReservation", "answered"),
    ]


async def test_a_station_that_left_is_503_from_any_worker(two_workers):
    _, http_worker = two_workers
    operator, _ = await setup_data()
    code, body = await asyncio.to_thread(
        http,
        "POST",
        f"{http_worker.http_url}/api/stations/CP_FAR/commands/ClearCache/",
        operator,
        {},
    )
    assert code == 503 and body["message"] == "No such Charge Point. [CP_FAR]"


async def test_an_idle_station_stays_connected_past_the_channel_layers_blocking_read(
    two_workers,
):
    """channels-redis blocks on Redis for 5 s at a time; a client socket timeout at or below that
    (redis-py 8's default) closed every station that was quiet for 5 s with code 1011."""
    socket_worker, _ = two_workers
    await setup_data()
    async with await connect_ws(socket_worker.url, "CP_FAR") as ws:
        boot = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}
        await ws.send(json.dumps([2, "b", "BootNotification", boot]))
        await ws.recv()
        # Quiet for longer than the blocking read: the failure was a close frame here.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 7)
        await ws.send(json.dumps([2, "h", "Heartbeat", {}]))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))[1] == "h"
    assert "Exception inside application" not in socket_worker.output()
