"""A raw OCPP-J test client over Channels' WebsocketCommunicator: exact frames in, exact frames out."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

from channels.testing import WebsocketCommunicator

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


class OcppTestClient:
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
        client.subprotocol = detail if connected else None
        return client, connected, detail

    async def send(self, frame: Any) -> None:
        if isinstance(frame, bytes):
            await self.communicator.send_to(bytes_data=frame)
        else:
            text = frame if isinstance(frame, str) else json.dumps(frame)
            await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 10) -> list:
        return json.loads(await self.communicator.receive_from(timeout))

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

    async def close(self) -> None:
        await self.communicator.disconnect()
