"""The baseline: a central system written by hand with the `ocpp` library's defaults on `websockets`,
as its documentation shows it. No persistence, no authentication, no message log: the cost of the
OCPP library and the WebSocket server alone. Schema validation is on (the library's default); its
logger is left unconfigured (WARNING), like the CSMS under benchmark with OCPP_LOG_FRAMES=0.

    python -m bench.bare_csms --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v16.enums import RegistrationStatus as Registration16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import RegistrationStatusEnumType
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol


def now() -> str:
    return datetime.now(UTC).isoformat()


class Station201(ChargePoint201):
    @on(Action201.boot_notification)
    def on_boot_notification(self, charging_station, reason, **kwargs):
        return result201.BootNotification(
            current_time=now(), interval=3600, status=RegistrationStatusEnumType.accepted
        )

    @on(Action201.heartbeat)
    def on_heartbeat(self, **kwargs):
        return result201.Heartbeat(current_time=now())

    @on(Action201.status_notification)
    def on_status_notification(self, **kwargs):
        return result201.StatusNotification()


class Station16(ChargePoint16):
    @on(Action16.boot_notification)
    def on_boot_notification(self, charge_point_vendor, charge_point_model, **kwargs):
        return result16.BootNotification(
            current_time=now(), interval=3600, status=Registration16.accepted
        )

    @on(Action16.heartbeat)
    def on_heartbeat(self, **kwargs):
        return result16.Heartbeat(current_time=now())

    @on(Action16.status_notification)
    def on_status_notification(self, **kwargs):
        return result16.StatusNotification()


async def on_connect(websocket: ServerConnection) -> None:
    station_id = websocket.request.path.strip("/")
    kind = Station16 if websocket.subprotocol == "ocpp1.6" else Station201
    with contextlib.suppress(ConnectionClosed):
        await kind(station_id, websocket).start()


async def main(port: int) -> None:
    async with serve(
        on_connect,
        "127.0.0.1",
        port,
        subprotocols=[Subprotocol("ocpp2.0.1"), Subprotocol("ocpp1.6")],
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    asyncio.run(main(parser.parse_args().port))
