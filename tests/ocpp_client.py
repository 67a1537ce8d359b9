"""OCPP-J test clients, exact frames in and exact frames out: `OcppTestClient` over Channels'
WebsocketCommunicator (in process), `LiveClient` over a real WebSocket to a server process
(`connect_ws` for the bare socket). Both make their CALLs with `OcppCalls`."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Iterable
from typing import Any

import websockets
from channels.testing import WebsocketCommunicator
from websockets.typing import Subprotocol

from csms_site.asgi import application

SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
_ids = itertools.count(1)


def basic_auth(username: str, password: str | bytes) -> bytes:
    secret = password.encode() if isinstance(password, str) else password
    return b"Basic " + base64.b64encode(username.encode() + b":" + secret)


def boot_payload(version: str, vendor: str = "RalphCo", model: str = "Wallbox XYZ") -> dict:
    if version == "1.6":
        return {"chargePointVendor": vendor, "chargePointModel": model}
    return {"chargingStation": {"vendorName": vendor, "model": model}, "reason": "PowerUp"}


def status_payload(version: str, connector: int, status: str = "Available") -> dict:
    if version == "1.6":
        return {"connectorId": connector, "errorCode": "NoError", "status": status}
    return {
        "timestamp": "2026-01-18T12:34:56Z",
        "connectorStatus": status,
        "evseId": connector,
        "connectorId": 1,
    }


def ws_subprotocols(names: Iterable[str]) -> list[Subprotocol]:
    """Subprotocol names as `websockets` types them."""
    return [Subprotocol(name) for name in names]


async def connect_ws(
    url: str,
    identity: str,
    version: str = "2.0.1",
    *,
    password: str | bytes | None = None,
    username: str | None = None,
    **kwargs: Any,
) -> websockets.ClientConnection:
    """A station's handshake with a real server at `url` (ws://host:port): `/ocpp/<identity>`,
    the version's subprotocol, Basic auth when a password is given. Other keyword arguments go to
    `websockets.connect` (open_timeout is 10 s unless given)."""
    headers = {}
    if password is not None:
        headers["Authorization"] = basic_auth(username or identity, password).decode()
    kwargs.setdefault("open_timeout", 10)
    return await websockets.connect(
        f"{url}/ocpp/{identity}",
        subprotocols=ws_subprotocols([SUBPROTOCOL[version]]),
        additional_headers=headers,
        **kwargs,
    )


class OcppCalls:
    """A station's own CALLs, each answered before the next: subclasses carry the frames."""

    version: str

    async def send(self, frame: Any) -> None:
        raise NotImplementedError

    async def receive(self, timeout: float = 10) -> list:
        raise NotImplementedError

    async def call(self, action: str, payload: dict, unique_id: str | None = None) -> list:
        unique_id = unique_id or f"m{next(_ids)}"
        await self.send([2, unique_id, action, payload])
        answer = await self.receive()
        assert answer[1] == unique_id, answer
        return answer

    async def result(self, action: str, payload: dict) -> dict:
        answer = await self.call(action, payload)
        assert answer[0] == 3, answer
        return answer[2]

    async def boot(self, **kwargs: Any) -> dict:
        return await self.result("BootNotification", boot_payload(self.version, **kwargs))

    async def heartbeat(self) -> dict:
        return await self.result("Heartbeat", {})

    async def answer(self, payload: dict | None = None, timeout: float = 10) -> list:
        """Receive the CSMS's next frame, a CALL, and answer it with `payload` (by default
        {"status": "Accepted"}); return the CALL."""
        call = await self.receive(timeout)
        assert call[0] == 2, call
        await self.send([3, call[1], {"status": "Accepted"} if payload is None else payload])
        return call


class OcppTestClient(OcppCalls):
    def __init__(self, communicator: WebsocketCommunicator, version: str):
        self.communicator = communicator
        self.version = version
        self.subprotocol: str | None = None

    @classmethod
    async def open(
        cls,
        identity: str,
        version: str = "2.0.1",
        *,
        password: str | bytes | None = None,
        username: str | None = None,
        subprotocols: list[str] | None = None,
        path: str | None = None,
    ) -> tuple[OcppTestClient, bool, Any]:
        headers = []
        if password is not None:
            headers.append((b"authorization", basic_auth(username or identity, password)))
        communicator = WebsocketCommunicator(
            application,
            path or f"/ocpp/{identity}",
            headers=headers,
            subprotocols=subprotocols if subprotocols is not None else [SUBPROTOCOL[version]],
        )
        connected, detail = await communicator.connect(timeout=10)
        client = cls(communicator, version)
        # Accepted, the detail is the subprotocol chosen; refused, the close code.
        client.subprotocol = detail if connected and isinstance(detail, str) else None
        return client, connected, detail

    async def send(self, frame: Any) -> None:
        if isinstance(frame, bytes):
            await self.communicator.send_to(bytes_data=frame)
        else:
            text = frame if isinstance(frame, str) else json.dumps(frame)
            await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 10) -> list:
        return json.loads(await self.communicator.receive_from(timeout))

    async def close(self) -> None:
        await self.communicator.disconnect()


class LiveClient(OcppCalls):
    """A station over a real WebSocket to a server process (the frames of `OcppTestClient`)."""

    def __init__(self, ws: websockets.ClientConnection, version: str):
        self.ws = ws
        self.version = version

    @classmethod
    async def open(
        cls, url: str, identity: str, version: str = "2.0.1", **kwargs: Any
    ) -> LiveClient:
        """`connect_ws`'s handshake (password=..., open_timeout=...)."""
        return cls(await connect_ws(url, identity, version, **kwargs), version)

    async def send(self, frame: Any) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def receive(self, timeout: float = 10) -> list:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> LiveClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
