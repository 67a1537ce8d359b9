"""End to end against real ASGI server processes, with the `ocpp` library's ChargePoint over
`websockets` as the station: what any conformant third-party client would do."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest
import websockets
from channels.db import database_sync_to_async
from ocpp.exceptions import SecurityError
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from websockets.exceptions import InvalidStatus

from stations.models import Connector, IdToken, MeterSample, Station, StationEvent, Transaction
from stations.passwords import make_station_password
from tests.conftest import require_service
from tests.ocpp_client import connect_ws
from tests.servers import AsgiServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

PASSWORD = "live-station-key-0001"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@database_sync_to_async
def register(identity: str, password: str | None = PASSWORD, **fields) -> None:
    Station.objects.create(
        id=identity, password_hash=make_station_password(password) if password else "", **fields
    )


@contextlib.asynccontextmanager
async def library_station(url: str, identity: str, version: str, password: str | None = PASSWORD):
    ws = await connect_ws(url, identity, version, password=password)
    cp = (ChargePoint16 if version == "1.6" else ChargePoint201)(identity, ws, response_timeout=10)
    reader = asyncio.create_task(cp.start())
    try:
        yield cp, ws
    finally:
        await ws.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await reader


async def test_a_16_station_charges_end_to_end_on_daphne(live_daphne):
    await register("LIVE16")
    await database_sync_to_async(IdToken.objects.create)(token="CARD-1")
    async with library_station(live_daphne.url, "LIVE16", "1.6") as (cp, ws):
        assert ws.subprotocol == "ocpp1.6"
        boot = await cp.call(
            call16.BootNotification(
                charge_point_model="Wallbox XYZ", charge_point_vendor="RalphCo"
            ),
            suppress=False,
        )
        assert boot.status == "Accepted" and boot.interval == 300
        assert (await cp.call(call16.Heartbeat(), suppress=False)).current_time
        for connector in (0, 1):
            await cp.call(
                call16.StatusNotification(
                    connector_id=connector, error_code="NoError", status="Available"
                ),
                suppress=False,
            )
        auth = await cp.call(call16.Authorize(id_tag="CARD-1"), suppress=False)
        assert auth.id_tag_info["status"] == "Accepted"
        start = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="CARD-1", meter_start=0, timestamp=now()
            ),
            suppress=False,
        )
        sample = {
            "timestamp": now(),
            "sampledValue": [{"value": "1200", "measurand": "Energy.Active.Import.Register"}],
        }
        await cp.call(
            call16.MeterValues(
                connector_id=1, transaction_id=start.transaction_id, meter_value=[sample]
            ),
            suppress=False,
        )
        stop = await cp.call(
            call16.StopTransaction(
                meter_stop=2500,
                timestamp=now(),
                transaction_id=start.transaction_id,
                id_tag="CARD-1",
            ),
            suppress=False,
        )
        assert stop.id_tag_info["status"] == "Accepted"
        transfer = await cp.call(call16.DataTransfer(vendor_id="com.example"), suppress=False)
        assert transfer.status == "UnknownVendorId"

    tx = await database_sync_to_async(Transaction.objects.get)(pk=start.transaction_id)
    assert not tx.is_active and tx.energy_wh == 2500
    assert await MeterSample.objects.filter(transaction=tx).acount() == 1
    station = await Station.objects.aget(pk="LIVE16")
    assert station.vendor == "RalphCo" and station.status == "Available"
    assert await Connector.objects.filter(station=station, status="Available").acount() == 1


async def test_a_201_station_charges_end_to_end_on_uvicorn(live_uvicorn):
    await register("LIVE201")
    async with library_station(live_uvicorn.url, "LIVE201", "2.0.1") as (cp, ws):
        assert ws.subprotocol == "ocpp2.0.1"
        boot = await cp.call(
            call201.BootNotification(
                charging_station={"model": "Wallbox XYZ", "vendor_name": "anewone"},
                reason="PowerUp",
            ),
            suppress=False,
        )
        assert boot.status == "Accepted"
        await cp.call(call201.Heartbeat(), suppress=False)
        await cp.call(
            call201.StatusNotification(
                timestamp=now(), connector_status="Available", evse_id=1, connector_id=1
            ),
            suppress=False,
        )
        auth = await cp.call(
            call201.Authorize(id_token={"id_token": "CARD-9", "type": "ISO14443"}), suppress=False
        )
        assert auth.id_token_info["status"] == "Invalid"  # unknown token, production default
        for seq_no, (event_type, kwh) in enumerate(
            [("Started", 1.0), ("Updated", 2.0), ("Ended", 4.5)]
        ):
            await cp.call(
                call201.TransactionEvent(
                    event_type=event_type,
                    timestamp=now(),
                    trigger_reason="MeterValuePeriodic",
                    seq_no=seq_no,
                    transaction_info={"transaction_id": "LIVE-TX"},
                    evse={"id": 1, "connector_id": 1},
                    meter_value=[
                        {
                            "timestamp": now(),
                            "sampled_value": [{"value": kwh, "unit_of_measure": {"unit": "kWh"}}],
                        }
                    ],
                ),
                suppress=False,
            )
        transfer = await cp.call(call201.DataTransfer(vendor_id="com.example"), suppress=False)
        assert transfer.status == "UnknownVendorId"

    tx = await Transaction.objects.aget(station_id="LIVE201", ocpp_id="LIVE-TX")
    assert not tx.is_active and tx.energy_wh == 3500


async def test_the_boot_order_rule_holds_for_a_library_client(live_daphne):
    await register("EARLY", registration_status="Pending")
    async with library_station(live_daphne.url, "EARLY", "2.0.1") as (cp, _):
        with pytest.raises(SecurityError):
            await cp.call(call201.Heartbeat(), suppress=False)
        boot = await cp.call(
            call201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            ),
            suppress=False,
        )
        assert boot.status == "Pending"
        with pytest.raises(SecurityError):
            await cp.call(call201.Heartbeat(), suppress=False)


async def test_a_wrong_password_is_refused_before_the_upgrade_with_403_on_daphne(live_daphne):
    await register("GUARDED")
    await Station.objects.filter(pk="GUARDED").aupdate(
        password_hash=make_station_password(PASSWORD)
    )
    with pytest.raises(InvalidStatus) as refused:
        async with library_station(
            live_daphne.url, "GUARDED", "1.6", password="wrong-password-12345"
        ):
            pass
    assert refused.value.response.status_code == 403
    station = await Station.objects.aget(pk="GUARDED")
    assert station.failed_logins == 1 and station.last_failed_login_address == "127.0.0.1"


async def test_a_wrong_password_is_refused_with_401_where_the_server_can_say_so(live_uvicorn):
    await register("GUARDED2")
    with pytest.raises(InvalidStatus) as refused:
        async with library_station(
            live_uvicorn.url, "GUARDED2", "2.0.1", password="wrong-password-12345"
        ):
            pass
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


async def test_an_unknown_station_is_refused_with_404_where_the_server_can_say_so(live_uvicorn):
    with pytest.raises(InvalidStatus) as refused:
        async with library_station(live_uvicorn.url, "NOBODY", "2.0.1"):
            pass
    assert refused.value.response.status_code == 404


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_frame_faults_over_the_wire(live_daphne, version):
    await register(f"RAW{version[0]}", password=None, boot_status="Accepted")
    async with await connect_ws(live_daphne.url, f"RAW{version[0]}", version) as ws:

        async def answer() -> str:
            frame = await asyncio.wait_for(ws.recv(), 10)
            assert isinstance(frame, str), frame  # a text frame
            return frame

        await ws.send("this is not json")
        expected = "FormationViolation" if version == "1.6" else "RpcFrameworkError"
        assert (await answer()).startswith(f'[4,"-1","{expected}"')
        await ws.send('[2,"u1","Unknown",{}]')
        assert '"NotImplemented"' in await answer()
        await ws.send(b"\x00\x01binary")
        assert '"-1"' in await answer()
        await ws.send('[2,"h1","Heartbeat",{}]')
        assert (await answer()).startswith('[3,"h1",{"currentTime"')


async def test_the_second_connection_rule_holds_across_worker_processes(transactional_db):
    """Two daphne processes share PostgreSQL or SQLite and a Redis channel layer: a station's
    authenticated reconnect on worker B closes its old socket on worker A."""
    require_service("Redis", "127.0.0.1", 6379)
    env = {"REDIS_URL": "redis://127.0.0.1:6379/15"}
    worker_a = AsgiServer("daphne", env).start()
    worker_b = AsgiServer("daphne", env).start()
    try:
        await register("ROAMER")
        async with (
            library_station(worker_a.url, "ROAMER", "2.0.1") as (_, old),
            library_station(worker_b.url, "ROAMER", "2.0.1") as (cp, _),
        ):
            await asyncio.wait_for(old.wait_closed(), 10)
            assert old.close_code == 4000
            await cp.call(
                call201.BootNotification(
                    charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                ),
                suppress=False,
            )
            station = await Station.objects.aget(pk="ROAMER")
            assert station.connected and station.session == 2
            assert station.channel_name.startswith("specific.")
        replaced = StationEvent.objects.filter(station_id="ROAMER", type="ConnectionReplaced")
        assert await replaced.aexists()
    finally:
        worker_a.stop()
        worker_b.stop()
