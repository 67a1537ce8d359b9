"""csms_site/uvicorn_ws.py: uvicorn's WebSocket protocol, less what it keeps of each handshake.
A real uvicorn server in this process (to look at its connections), a real station socket with
Basic auth (the handshake's headers must still reach the consumer)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import uvicorn

from csms_site.uvicorn_ws import LeanWebSocketProtocol
from stations.models import Station
from stations.passwords import make_station_password
from tests.ocpp_client import connect_ws

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-station-password-1"


@pytest.fixture
async def server():
    from csms_site.asgi import application

    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        ws=LeanWebSocketProtocol,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, no event)
            await asyncio.sleep(0.01)
    yield server
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_an_accepted_socket_keeps_nothing_of_its_handshake(server):
    await Station.objects.acreate(
        id="LEAN_1",
        registration_status="Accepted",
        boot_status="Accepted",
        password_hash=make_station_password(PASSWORD),
    )
    port = server.servers[0].sockets[0].getsockname()[1]
    ws = await connect_ws(f"ws://127.0.0.1:{port}", "LEAN_1", "1.6", password=PASSWORD)
    try:
        await ws.send('[2,"1","Heartbeat",{}]')  # admitted with its Basic credentials
        assert str(await asyncio.wait_for(ws.recv(), 10)).startswith('[3,"1"')
        (protocol,) = [c for c in server.server_state.connections if c.handshake_complete]
        assert isinstance(protocol, LeanWebSocketProtocol)
        assert protocol.request is None and protocol.response is None
        assert protocol.scope["headers"] == []
    finally:
        await ws.close()
