"""The baselines: a central system written by hand with the `ocpp` library's defaults on
`websockets`, as its documentation shows it. Schema validation is on (the library's default); its
logger is left unconfigured (WARNING), like the CSMS under benchmark with OCPP_LOG_FRAMES=0.

- Plain: no persistence, no authentication, no message log: the cost of the OCPP library and the
  WebSocket server alone (transactions and meter values are answered from memory).
- `--orm`: the same, storing what a hand-written server would, the obvious way: one ORM insert per
  sampled value, each through `sync_to_async` (the CSMS's own models and database, so the benchmark
  counts its rows like the CSMS's).

    python -m bench.bare_csms --port 9000 [--orm]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
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

if TYPE_CHECKING:
    # The CSMS's models: imported at run time once Django is set up (--orm only, below).
    from stations.models import MeterSample, Station, Transaction


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

    @on(Action201.transaction_event)
    def on_transaction_event(self, **kwargs):
        return result201.TransactionEvent()  # in memory: nothing kept (bench/fleet.py)


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

    @on(Action16.start_transaction)
    def on_start_transaction(self, **kwargs):
        global _next_transaction
        _next_transaction += 1
        return result16.StartTransaction(
            transaction_id=_next_transaction, id_tag_info={"status": "Accepted"}
        )

    @on(Action16.meter_values)
    def on_meter_values(self, **kwargs):
        return result16.MeterValues()


_next_transaction = 0


class OrmStation201(Station201):
    @on(Action201.boot_notification)
    async def on_boot_notification(self, charging_station, reason, **kwargs):
        await sync_to_async(Station.objects.get_or_create)(id=self.id)
        return super().on_boot_notification(charging_station, reason, **kwargs)

    @on(Action201.transaction_event)
    async def on_transaction_event(
        self, event_type, timestamp, trigger_reason, seq_no, transaction_info, **kwargs
    ):
        tx, _ = await sync_to_async(Transaction.objects.get_or_create)(
            station_id=self.id,
            ocpp_id=transaction_info["transaction_id"],
            defaults={"evse_id": kwargs.get("evse", {}).get("id", 1), "started_at": timestamp},
        )
        for meter_value in kwargs.get("meter_value", []):
            for sampled in meter_value["sampled_value"]:
                await sync_to_async(MeterSample.objects.create)(
                    station_id=self.id,
                    transaction=tx,
                    evse_id=tx.evse_id,
                    timestamp=meter_value["timestamp"],
                    measurand=sampled.get("measurand", "Energy.Active.Import.Register"),
                    phase=sampled.get("phase", ""),
                    unit=sampled.get("unit_of_measure", {}).get("unit", "Wh"),
                    context=sampled.get("context", "Sample.Periodic"),
                    location=sampled.get("location", "Outlet"),
                    value=sampled["value"],
                )
        return result201.TransactionEvent()


class OrmStation16(Station16):
    @on(Action16.boot_notification)
    async def on_boot_notification(self, charge_point_vendor, charge_point_model, **kwargs):
        await sync_to_async(Station.objects.get_or_create)(id=self.id)
        return super().on_boot_notification(charge_point_vendor, charge_point_model, **kwargs)

    @on(Action16.start_transaction)
    async def on_start_transaction(self, connector_id, id_tag, meter_start, timestamp, **kwargs):
        tx = await sync_to_async(Transaction.objects.create)(
            station_id=self.id,
            evse_id=connector_id,
            id_token=id_tag,
            meter_start_wh=meter_start,
            started_at=timestamp,
        )
        return result16.StartTransaction(transaction_id=tx.pk, id_tag_info={"status": "Accepted"})

    @on(Action16.meter_values)
    async def on_meter_values(self, connector_id, meter_value, transaction_id=None, **kwargs):
        for item in meter_value:
            for sampled in item["sampled_value"]:
                await sync_to_async(MeterSample.objects.create)(
                    station_id=self.id,
                    transaction_id=transaction_id,
                    evse_id=connector_id,
                    timestamp=item["timestamp"],
                    measurand=sampled.get("measurand", "Energy.Active.Import.Register"),
                    phase=sampled.get("phase", ""),
                    unit=sampled.get("unit", "Wh"),
                    context=sampled.get("context", "Sample.Periodic"),
                    location=sampled.get("location", "Outlet"),
                    value=float(sampled["value"]),
                )
        return result16.MeterValues()


KINDS = {False: (Station16, Station201), True: (OrmStation16, OrmStation201)}
ORM = False


async def on_connect(websocket: ServerConnection) -> None:
    assert websocket.request is not None  # the handshake is done
    station_id = websocket.request.path.strip("/")
    v16, v201 = KINDS[ORM]
    kind = v16 if websocket.subprotocol == "ocpp1.6" else v201
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
    parser.add_argument("--orm", action="store_true", help="store samples, one ORM insert each")
    args = parser.parse_args()
    if args.orm:
        import django

        django.setup()  # DJANGO_SETTINGS_MODULE and DATABASE_URL come from the environment
        from stations.models import MeterSample, Station, Transaction

        ORM = True
    asyncio.run(main(args.port))
