"""The emulator against an independent central system: the `ocpp` library's ChargePoint behind a
plain `websockets` server, written here and sharing no code with our CSMS.

Every command of `stations.remote.catalog.CSMS_ACTIONS` is sent to the emulator with the library's `call`
dataclasses (so the library validates what goes out and what comes back), and every message the
emulator sends is validated by the library before it is recorded. The tests wait for the messages
they expect, never for time to pass.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.charge_point import ChargePoint
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201

from emulator.station import EmulatedStation, StationOptions
from stations.remote.catalog import CSMS_ACTIONS
from tests.emulated import WatchedStation, shut_down
from tests.ocpp_client import ws_subprotocols

TIMEOUT = 5.0
VENDOR = "org.example.emulator"
SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
# The emulator speaks the 1.6 connector vocabulary internally; 2.0.1 reports these as Occupied.
OCCUPIED = {"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"}
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"


def timestamp(offset: float = 0.0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=offset)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the independent central system ---------------------------------------------------------------


@dataclass
class Received:
    connection: int  # 1 for the first connection the server accepted, 2 for the next...
    action: str
    payload: dict[str, Any]
    at: float  # the event loop's clock when it was answered


class CentralSystem:
    """A minimal CSMS: answers what a station sends, records it, and sends commands."""

    def __init__(self, version: str, port: int = 0):
        self.version = version
        self.port = port
        self.server: Any = None
        self.connections: list[Any] = []  # the ChargePoint of every connection, in order
        self.messages: list[Received] = []
        self._consumed: set[int] = set()
        self._changed = asyncio.Event()
        self.errors: list[str] = []  # CALLERRORs this CSMS had to answer: the emulator erred
        self.boot_statuses: list[tuple[str, int]] = []  # answers for the next boots, in order
        self.boot_interval = 300
        self.authorize_status = "Accepted"
        self.start_status = "Accepted"
        self.personal_message = ""  # idTokenInfo's personalMessage (2.0.1), when set
        self.total_cost: float | None = None  # the Ended answer's totalCost (2.0.1), when set
        self.transaction_ids = itertools.count(101)
        self.given_transaction_ids: list[int] = []

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def start(self) -> CentralSystem:
        self.server = await websockets.serve(
            self._serve,
            "127.0.0.1",
            self.port,
            subprotocols=ws_subprotocols([SUBPROTOCOL[self.version]]),
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _serve(self, ws: Any) -> None:
        identity = ws.request.path.rstrip("/").rsplit("/", 1)[-1]
        cls = Csms16 if self.version == "1.6" else Csms201
        cp = cls(identity, ws, self)
        self.connections.append(cp)
        self._notify()
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()

    @property
    def cp(self) -> Any:
        return self.connections[-1]

    def _notify(self) -> None:
        self._changed.set()

    def record(self, cp: Any, action: str, payload: dict[str, Any]) -> None:
        at = asyncio.get_running_loop().time()
        self.messages.append(Received(self.connections.index(cp) + 1, action, payload, at))
        self._notify()

    def next_boot(self) -> tuple[str, int]:
        if self.boot_statuses:
            return self.boot_statuses.pop(0)
        return "Accepted", self.boot_interval

    async def wait(self, condition: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        async with asyncio.timeout(timeout):
            while not (result := condition()):
                self._changed.clear()
                await self._changed.wait()
        return result

    async def expect(
        self,
        action: str,
        where: Callable[[dict[str, Any]], bool] | None = None,
        *,
        connection: int | None = None,
        timeout: float = TIMEOUT,
    ) -> dict[str, Any]:
        """The payload of the earliest message not yet expected with this action (and condition),
        once received."""
        message = await self.expect_message(action, where, connection=connection, timeout=timeout)
        return message.payload

    async def expect_message(
        self,
        action: str,
        where: Callable[[dict[str, Any]], bool] | None = None,
        *,
        connection: int | None = None,
        timeout: float = TIMEOUT,
    ) -> Received:

        def find() -> Received | None:
            for index, message in enumerate(self.messages):
                if (
                    index not in self._consumed
                    and message.action == action
                    and (connection is None or message.connection == connection)
                    and (where is None or where(message.payload))
                ):
                    self._consumed.add(index)
                    return message
            return None

        try:
            return await self.wait(find, timeout)
        except TimeoutError:
            seen = [(m.connection, m.action, m.payload) for m in self.messages]
            raise AssertionError(f"no {action} arrived; received: {seen}") from None

    def received(self, action: str, connection: int | None = None) -> list[dict[str, Any]]:
        return [
            m.payload
            for m in self.messages
            if m.action == action and (connection is None or m.connection == connection)
        ]

    async def call(self, payload: Any) -> Any:
        """Send a command with the library; a CALLERROR raises."""
        async with asyncio.timeout(TIMEOUT):
            return await self.cp.call(payload, suppress=False)

    # --- version-neutral expectations ----------------------------------------------------------

    async def expect_status(self, status: str, connector: int = 1, **kw: Any) -> dict:
        if self.version == "1.6":
            return await self.expect(
                "StatusNotification",
                lambda p: p["connectorId"] == connector and p["status"] == status,
                **kw,
            )
        wanted = "Occupied" if status in OCCUPIED else status
        return await self.expect(
            "StatusNotification",
            lambda p: p["evseId"] == connector and p["connectorStatus"] == wanted,
            **kw,
        )

    async def expect_started(self, **kw: Any) -> dict:
        if self.version == "1.6":
            return await self.expect("StartTransaction", **kw)
        return await self.expect("TransactionEvent", lambda p: p["eventType"] == "Started", **kw)

    async def expect_meter_values(self, **kw: Any) -> dict:
        if self.version == "1.6":
            return await self.expect("MeterValues", lambda p: "transactionId" in p, **kw)
        return await self.expect("TransactionEvent", lambda p: p["eventType"] == "Updated", **kw)

    async def expect_ended(self, **kw: Any) -> dict:
        if self.version == "1.6":
            return await self.expect("StopTransaction", **kw)
        return await self.expect("TransactionEvent", lambda p: p["eventType"] == "Ended", **kw)

    async def expect_boot(self, connection: int | None = None, connectors: int = 2) -> dict:
        """A BootNotification and the status report of every connector that follows it."""
        boot = await self.expect("BootNotification", connection=connection)
        for connector in range(1, connectors + 1):
            await self.expect_status("Available", connector, connection=connection)
        return boot

    def transaction_id(self, started: dict[str, Any]) -> int | str:
        """The id a RemoteStop / RequestStop names: ours in 1.6, the station's in 2.0.1."""
        if self.version == "1.6":
            return self.given_transaction_ids[-1]
        return started["transactionInfo"]["transactionId"]


class _Recording(ChargePoint):
    """Record every CALL the station sends once the library validated it and the handler ran,
    just before the answer goes out (so a test that sees it also sees the handler's effects)."""

    def __init__(self, identity: str, ws: Any, system: CentralSystem):
        super().__init__(identity, ws, response_timeout=TIMEOUT)
        self.ws = ws
        self.system = system
        self._unanswered: dict[str, tuple[str, dict[str, Any]]] = {}

    async def route_message(self, raw_msg: str) -> None:
        frame = json.loads(raw_msg)
        if frame[0] == 2:
            self._unanswered[frame[1]] = (frame[2], frame[3])
        await super().route_message(raw_msg)

    async def _send(self, message: str) -> None:
        frame = json.loads(message)
        if frame[0] in (3, 4) and frame[1] in self._unanswered:
            self.system.record(self, *self._unanswered.pop(frame[1]))
        if frame[0] == 4:
            self.system.errors.append(message)
        await super()._send(message)


class Csms16(_Recording, ChargePoint16):
    @on(Action16.boot_notification)
    def on_boot_notification(self, **_: Any):
        status, interval = self.system.next_boot()
        return result16.BootNotification(current_time=timestamp(), interval=interval, status=status)

    @on(Action16.heartbeat)
    def on_heartbeat(self, **_: Any):
        return result16.Heartbeat(current_time=timestamp())

    @on(Action16.status_notification)
    def on_status_notification(self, **_: Any):
        return result16.StatusNotification()

    @on(Action16.authorize)
    def on_authorize(self, **_: Any):
        return result16.Authorize(id_tag_info={"status": self.system.authorize_status})

    @on(Action16.start_transaction)
    def on_start_transaction(self, **_: Any):
        transaction_id = next(self.system.transaction_ids)
        self.system.given_transaction_ids.append(transaction_id)
        return result16.StartTransaction(
            transaction_id=transaction_id, id_tag_info={"status": self.system.start_status}
        )

    @on(Action16.meter_values)
    def on_meter_values(self, **_: Any):
        return result16.MeterValues()

    @on(Action16.stop_transaction)
    def on_stop_transaction(self, **_: Any):
        return result16.StopTransaction(id_tag_info={"status": "Accepted"})

    @on(Action16.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, **_: Any):
        return result16.DiagnosticsStatusNotification()

    @on(Action16.firmware_status_notification)
    def on_firmware_status_notification(self, **_: Any):
        return result16.FirmwareStatusNotification()

    @on(Action16.log_status_notification)
    def on_log_status_notification(self, **_: Any):
        return result16.LogStatusNotification()

    @on(Action16.sign_certificate)
    def on_sign_certificate(self, **_: Any):
        return result16.SignCertificate(status="Accepted")

    @on(Action16.signed_firmware_status_notification)
    def on_signed_firmware_status_notification(self, **_: Any):
        return result16.SignedFirmwareStatusNotification()


class Csms201(_Recording, ChargePoint201):
    @on(Action201.boot_notification)
    def on_boot_notification(self, **_: Any):
        status, interval = self.system.next_boot()
        return result201.BootNotification(
            current_time=timestamp(), interval=interval, status=status
        )

    @on(Action201.heartbeat)
    def on_heartbeat(self, **_: Any):
        return result201.Heartbeat(current_time=timestamp())

    @on(Action201.status_notification)
    def on_status_notification(self, **_: Any):
        return result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, **_: Any):
        info: dict[str, Any] = {"status": self.system.authorize_status}
        if self.system.personal_message:
            info["personal_message"] = {"format": "UTF8", "content": self.system.personal_message}
        return result201.Authorize(id_token_info=info)

    @on(Action201.transaction_event)
    def on_transaction_event(self, event_type: str, **_: Any):
        if event_type == "Started":
            return result201.TransactionEvent(id_token_info={"status": self.system.start_status})
        if event_type == "Ended" and self.system.total_cost is not None:
            return result201.TransactionEvent(total_cost=self.system.total_cost)
        return result201.TransactionEvent()

    @on(Action201.meter_values)
    def on_meter_values(self, **_: Any):
        return result201.MeterValues()

    @on(Action201.notify_report)
    def on_notify_report(self, **_: Any):
        return result201.NotifyReport()

    @on(Action201.notify_event)
    def on_notify_event(self, **_: Any):
        return result201.NotifyEvent()

    @on(Action201.notify_monitoring_report)
    def on_notify_monitoring_report(self, **_: Any):
        return result201.NotifyMonitoringReport()

    @on(Action201.notify_customer_information)
    def on_notify_customer_information(self, **_: Any):
        return result201.NotifyCustomerInformation()

    @on(Action201.notify_display_messages)
    def on_notify_display_messages(self, **_: Any):
        return result201.NotifyDisplayMessages()

    @on(Action201.reservation_status_update)
    def on_reservation_status_update(self, **_: Any):
        return result201.ReservationStatusUpdate()

    @on(Action201.publish_firmware_status_notification)
    def on_publish_firmware_status_notification(self, **_: Any):
        return result201.PublishFirmwareStatusNotification()

    @on(Action201.report_charging_profiles)
    def on_report_charging_profiles(self, **_: Any):
        return result201.ReportChargingProfiles()

    @on(Action201.sign_certificate)
    def on_sign_certificate(self, **_: Any):
        return result201.SignCertificate(status="Accepted")

    @on(Action201.log_status_notification)
    def on_log_status_notification(self, **_: Any):
        return result201.LogStatusNotification()

    @on(Action201.firmware_status_notification)
    def on_firmware_status_notification(self, **_: Any):
        return result201.FirmwareStatusNotification()


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(params=["1.6", "2.0.1"])
def version(request) -> str:
    return request.param


only16 = pytest.mark.parametrize("version", ["1.6"])
only201 = pytest.mark.parametrize("version", ["2.0.1"])


@pytest.fixture
async def csms(version):
    system = await CentralSystem(version).start()
    yield system
    await system.stop()
    assert system.errors == [], "the emulator sent messages the library refused"


async def shutdown(station: EmulatedStation, task: asyncio.Task) -> None:
    """`shut_down`, and the station's background tasks are cancelled too."""
    await shut_down(station, task, 1)
    background = [t for t in station._tasks if not t.done()]
    for t in background:
        t.cancel()
    await asyncio.gather(*background, return_exceptions=True)


@pytest.fixture
async def start(csms):
    """Start an emulated station against `csms`; by default wait until it is online."""
    running: list[tuple[WatchedStation, asyncio.Task]] = []

    async def start(
        *, online: bool = True, url: str | None = None, **overrides: Any
    ) -> WatchedStation:
        options: dict[str, Any] = {
            "identity": "CP_EMU",
            "url": url or csms.url,
            "protocol": csms.version,
            "connectors": 2,
            "meter_interval": 0.2,
            "call_timeout": TIMEOUT,
            **overrides,
        }
        station = WatchedStation(StationOptions(**options), rng=random.Random(7))
        station.device.settings["RetryBackOffWaitMinimum"].value = "0"
        station.device.settings["RetryBackOffRandomRange"].value = "0"
        running.append((station, asyncio.create_task(station.run())))
        if online:
            await asyncio.wait_for(station.online.wait(), TIMEOUT)
            # Accepted, the station reports every connector; a test starts after that.
            for connector in station.connectors:
                await csms.expect_status("Available", connector)
        return station

    yield start
    for station, task in running:
        await shutdown(station, task)
        assert station.stats.dropped == 0


@pytest.fixture
async def station(start):
    return await start()


# --- version-neutral commands ------------------------------------------------------------------------


def id_token(tag: str) -> dict[str, str]:
    return {"id_token": tag, "type": "ISO14443"}


def reserve_now(version: str, reservation_id: int, connector: int, tag: str, expires_in=60.0):
    if version == "1.6":
        return call16.ReserveNow(
            connector_id=connector,
            expiry_date=timestamp(expires_in),
            id_tag=tag,
            reservation_id=reservation_id,
        )
    return call201.ReserveNow(
        id=reservation_id,
        expiry_date_time=timestamp(expires_in),
        id_token=id_token(tag),
        evse_id=connector,
    )


def cancel_reservation(version: str, reservation_id: int):
    if version == "1.6":
        return call16.CancelReservation(reservation_id=reservation_id)
    return call201.CancelReservation(reservation_id=reservation_id)


def remote_start(version: str, tag: str, connector: int | None = 1, remote_start_id: int = 77):
    if version == "1.6":
        return call16.RemoteStartTransaction(id_tag=tag, connector_id=connector)
    return call201.RequestStartTransaction(
        id_token=id_token(tag), remote_start_id=remote_start_id, evse_id=connector
    )


def remote_stop(version: str, transaction_id: int | str):
    if version == "1.6":
        return call16.RemoteStopTransaction(transaction_id=transaction_id)
    return call201.RequestStopTransaction(transaction_id=transaction_id)


def change_availability(version: str, connector: int, operative: bool):
    if version == "1.6":
        kind = "Operative" if operative else "Inoperative"
        return call16.ChangeAvailability(connector_id=connector, type=kind)
    status = "Operative" if operative else "Inoperative"
    evse = {"id": connector} if connector else None
    return call201.ChangeAvailability(operational_status=status, evse=evse)


def trigger(version: str, message: str, connector: int | None = None):
    if version == "1.6":
        return call16.TriggerMessage(requested_message=message, connector_id=connector)
    evse = {"id": connector} if connector else None
    return call201.TriggerMessage(requested_message=message, evse=evse)


def data_transfer(version: str, vendor: str, data: str | None = None):
    if version == "1.6":
        return call16.DataTransfer(vendor_id=vendor, message_id="echo", data=data)
    return call201.DataTransfer(vendor_id=vendor, message_id="echo", data=data)


def reset(version: str):
    if version == "1.6":
        return call16.Reset(type="Hard")
    return call201.Reset(type="Immediate")


def samples(payload: dict[str, Any], measurand: str) -> list[float]:
    """The values of `measurand` in a MeterValues, StopTransaction or TransactionEvent."""
    meter_values = payload.get("meterValue") or payload.get("transactionData") or []
    return [
        float(value["value"])
        for meter_value in meter_values
        for value in meter_value["sampledValue"]
        if value.get("measurand", ENERGY) == measurand
    ]


def energy(payload: dict[str, Any]) -> float:
    return samples(payload, ENERGY)[-1]


# --- the station's behaviour on its own ------------------------------------------------------------


async def test_boot_is_retried_while_pending_and_nothing_else_is_sent_before_accepted(csms, start):
    csms.boot_statuses = [("Pending", 1)]
    station = await start(online=False)
    first = await csms.expect_message("BootNotification")
    second = await csms.expect_boot()
    await asyncio.wait_for(station.online.wait(), TIMEOUT)
    assert [m.action for m in csms.messages[:2]] == ["BootNotification", "BootNotification"]
    assert csms.messages[1].at - first.at >= 0.9  # the interval given with Pending
    assert station.stats.boots == 2 and station.boot_answer["status"] == "Accepted"
    if csms.version == "2.0.1":
        assert second["reason"] == "PowerUp"
    # Once accepted the station lives: a triggered heartbeat goes out.
    assert (await csms.call(trigger(csms.version, "Heartbeat"))).status == "Accepted"
    await csms.expect("Heartbeat")
    assert "BootNotification" not in [m.action for m in csms.messages[2:]]


async def test_every_connector_is_reported_after_boot_and_after_a_reconnect(csms, station):
    assert len(csms.received("StatusNotification", connection=1)) == 2
    await csms.stop()
    await station.until(lambda: not station.online.is_set())
    station.connectors[2].faulted = True  # a fault while the connection is down
    await station.refresh_status(station.connectors[2])
    assert station.connectors[2].status == "Faulted"

    again = await CentralSystem(csms.version, port=csms.port).start()
    try:
        await again.expect("BootNotification")
        await again.expect_status("Available", 1)
        faulted = await again.expect_status("Faulted", 2)
        if csms.version == "1.6":
            assert faulted["errorCode"] != "NoError"
    finally:
        await again.stop()
    assert again.errors == []


@only16  # the same station code serves both versions
async def test_a_connection_lost_while_reporting_statuses_reconnects_at_once(version, start):
    connections: list[Any] = []
    reconnected = asyncio.Event()

    async def serve(ws: Any) -> None:
        connections.append(ws)
        if len(connections) > 1:
            reconnected.set()
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in ws:
                frame = json.loads(text)
                if frame[2] == "BootNotification":
                    answer = {"currentTime": timestamp(), "interval": 300, "status": "Accepted"}
                    await ws.send(json.dumps([3, frame[1], answer]))
                elif frame[2] == "StatusNotification":
                    await ws.close()  # lost before the answer

    async with websockets.serve(
        serve, "127.0.0.1", 0, subprotocols=ws_subprotocols([SUBPROTOCOL[version]])
    ) as server:
        port = server.sockets[0].getsockname()[1]
        await start(url=f"ws://127.0.0.1:{port}/", online=False, call_timeout=30)
        await asyncio.wait_for(reconnected.wait(), 1)


async def test_heartbeats_follow_the_interval_the_csms_gives(csms, start):
    csms.boot_interval = 1
    station = await start()
    first = await csms.expect_message("Heartbeat", timeout=3)
    second = await csms.expect_message("Heartbeat", timeout=3)
    assert first.payload == second.payload == {}
    assert second.at - first.at >= 0.9
    assert station.device.settings["HeartbeatInterval"].value == "1"


async def test_the_station_answers_websocket_pings(csms, station):
    pong = await csms.cp.ws.ping()
    latency = await asyncio.wait_for(pong, TIMEOUT)
    assert latency >= 0


async def test_the_station_reconnects_and_boots_again_after_the_csms_closes(csms, station):
    await csms.cp.ws.close()
    await csms.expect_boot(connection=2)
    await asyncio.wait_for(station.online.wait(), TIMEOUT)
    assert station.stats.connects == 2
    # The new connection works both ways.
    assert (await csms.call(trigger(csms.version, "Heartbeat"))).status == "Accepted"
    await csms.expect("Heartbeat", connection=2)


async def test_never_two_calls_outstanding(version, start):
    """A raw server that holds each answer: while one CALL of the station waits, the station still
    answers our CALLs, but sends no other CALL of its own, though three tasks want to."""
    calls: asyncio.Queue[list] = asyncio.Queue()
    answers: dict[str, asyncio.Future] = {}
    sockets: asyncio.Queue[Any] = asyncio.Queue()

    async def serve(ws: Any) -> None:
        sockets.put_nowait(ws)
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in ws:
                frame = json.loads(text)
                if frame[0] == 2:
                    calls.put_nowait(frame)
                elif frame[1] in answers:
                    answers.pop(frame[1]).set_result(frame)

    async with websockets.serve(
        serve, "127.0.0.1", 0, subprotocols=ws_subprotocols([SUBPROTOCOL[version]])
    ) as server:
        port = server.sockets[0].getsockname()[1]
        station = await start(url=f"ws://127.0.0.1:{port}/", online=False, connectors=2)
        ws = await asyncio.wait_for(sockets.get(), TIMEOUT)

        async def answer(frame: list, payload: dict[str, Any]) -> None:
            await ws.send(json.dumps([3, frame[1], payload]))

        async def our_call(action: str, payload: dict[str, Any]) -> list:
            """A CALL of ours. Its answer follows every frame the station sent before it."""
            unique_id = str(uuid.uuid4())
            answers[unique_id] = asyncio.get_running_loop().create_future()
            await ws.send(json.dumps([2, unique_id, action, payload]))
            return await asyncio.wait_for(answers[unique_id], TIMEOUT)

        async def next_call() -> list:
            return await asyncio.wait_for(calls.get(), TIMEOUT)

        def default_answer(frame: list) -> dict[str, Any]:
            if frame[2] == "BootNotification":
                return {"currentTime": timestamp(), "interval": 300, "status": "Accepted"}
            if frame[2] == "Heartbeat":
                return {"currentTime": timestamp()}
            return {}

        # Boot and the status report of both connectors, answered as they come.
        for expected in ("BootNotification", "StatusNotification", "StatusNotification"):
            frame = await next_call()
            assert frame[2] == expected
            await answer(frame, default_answer(frame))
        await asyncio.wait_for(station.online.wait(), TIMEOUT)

        # Three tasks that each want to send: StatusNotification x2, Heartbeat, MeterValues x2.
        for message in ("StatusNotification", "Heartbeat", "MeterValues"):
            result = await our_call("TriggerMessage", {"requestedMessage": message})
            assert result[2] == {"status": "Accepted"}
        seen = []
        for _ in range(5):
            frame = await next_call()
            seen.append(frame[2])
            # Hold the answer; a CALL of ours flushes whatever the station sent meanwhile.
            flushed = await our_call("ClearCache", {})
            assert flushed[0] == 3 and flushed[2] == {"status": "Accepted"}
            assert calls.empty(), f"a second CALL while {frame[2]} was unanswered"
            await answer(frame, default_answer(frame))
        assert sorted(seen) == sorted(
            ["StatusNotification"] * 2 + ["Heartbeat"] + ["MeterValues"] * 2
        )


async def _charge(csms: CentralSystem, station: EmulatedStation, tag: str = "TAG-1") -> dict:
    """A driver session on connector 1, started by the station; returns the start message."""
    assert await station.start_transaction(1, tag) is not None
    return await csms.expect_started()


async def test_the_offline_queue_is_delivered_in_order_after_reconnecting(csms, start):
    station = await start(meter_interval=0.1)
    started = await _charge(csms, station)
    online_meter = await csms.expect_meter_values()
    given = csms.given_transaction_ids[-1] if csms.version == "1.6" else None

    await csms.stop()  # the CSMS goes away mid-session
    await station.until(lambda: not station.online.is_set())
    queued_online = len(station.outbox)  # built before the socket closed, if any
    await station.until(lambda: len(station.outbox) >= queued_online + 3)
    assert await station.stop_transaction(1, "Local")
    queued = list(station.outbox)
    assert queued[-1].action == ("StopTransaction" if csms.version == "1.6" else "TransactionEvent")

    again = await CentralSystem(csms.version, port=csms.port).start()
    try:
        await again.expect_boot()
        ended = await again.expect_ended()
        await station.outbox_drained()
        if csms.version == "1.6":
            delivered = [
                (m.action, m.payload)
                for m in again.messages
                if m.action in ("MeterValues", "StopTransaction")
            ]
            assert [action for action, _ in delivered] == [item.action for item in queued]
            assert {p["transactionId"] for _, p in delivered} == {given}
            readings = [energy(p) for _, p in delivered]
            assert readings == sorted(readings) and readings[0] >= energy(online_meter)
            assert ended["meterStop"] == int(station.connectors[1].meter_wh)
            assert again.received("StartTransaction") == []
        else:
            events = again.received("TransactionEvent")
            assert [p["seqNo"] for p in events] == [
                (item.payload or item.build())["seqNo"] for item in queued
            ]
            before = [p["seqNo"] for p in csms.received("TransactionEvent")]
            after = [p["seqNo"] for p in events]
            assert after == list(range(after[0], after[0] + len(after)))  # no gaps, increasing
            assert after[0] <= before[-1] + 1 and sorted(set(before + after)) == list(
                range(after[-1] + 1)
            )
            assert all(p["offline"] is True for p in events[queued_online:])
            tx_id = started["transactionInfo"]["transactionId"]
            assert {p["transactionInfo"]["transactionId"] for p in events} == {tx_id}
            readings = [energy(p) for p in events]
            assert readings == sorted(readings)
    finally:
        await again.stop()
    assert again.errors == []


async def test_a_session_started_offline_is_delivered_with_the_id_the_csms_gives(csms, start):
    station = await start(meter_interval=0.1)
    await csms.stop()
    await station.until(lambda: not station.online.is_set())
    assert await station.start_transaction(1, "OFFLINE-1") is not None
    await station.until(lambda: len(station.outbox) >= 3)
    assert await station.stop_transaction(1, "Local")

    again = await CentralSystem(csms.version, port=csms.port).start()
    try:
        started = await again.expect_started()
        ended = await again.expect_ended()
        await station.outbox_drained()
        if csms.version == "1.6":
            given = again.given_transaction_ids[-1]
            meters = again.received("MeterValues")
            assert meters and {p["transactionId"] for p in meters} == {given}
            assert ended["transactionId"] == given
            assert started["idTag"] == "OFFLINE-1"
        else:
            events = again.received("TransactionEvent")
            assert [p["seqNo"] for p in events] == list(range(len(events)))
            assert all(p["offline"] is True for p in events)
    finally:
        await again.stop()
    assert again.errors == []


# --- reservations ---------------------------------------------------------------------------------


async def test_reserve_now_then_cancel(csms, station):
    v = csms.version
    answer = await csms.call(reserve_now(v, 1, 1, "TAG-R"))
    assert answer.status == "Accepted"
    await csms.expect_status("Reserved", 1)
    assert (await csms.call(reserve_now(v, 2, 1, "TAG-X"))).status == "Occupied"
    assert (await csms.call(cancel_reservation(v, 1))).status == "Accepted"
    await csms.expect_status("Available", 1)
    assert station.connectors[1].reservation is None
    assert (await csms.call(cancel_reservation(v, 1))).status == "Rejected"
    assert (await csms.call(cancel_reservation(v, 999))).status == "Rejected"


async def test_reserve_now_on_an_unavailable_or_faulted_connector(csms, station):
    v = csms.version
    assert (await csms.call(change_availability(v, 1, operative=False))).status == "Accepted"
    await csms.expect_status("Unavailable", 1)
    assert (await csms.call(reserve_now(v, 1, 1, "TAG-R"))).status == "Unavailable"
    station.connectors[2].faulted = True
    assert (await csms.call(reserve_now(v, 2, 2, "TAG-R"))).status == "Faulted"
    assert (await csms.call(change_availability(v, 1, operative=True))).status == "Accepted"
    await csms.expect_status("Available", 1)
    assert (await csms.call(reserve_now(v, 3, 1, "TAG-R"))).status == "Accepted"


async def test_a_reservation_expires(csms, station):
    v = csms.version
    assert (await csms.call(reserve_now(v, 5, 2, "TAG-R", expires_in=0.4))).status == "Accepted"
    await csms.expect_status("Reserved", 2)
    await csms.expect_status("Available", 2)
    assert station.connectors[2].reservation is None
    if v == "2.0.1":
        update = await csms.expect("ReservationStatusUpdate")
        assert update == {"reservationId": 5, "reservationUpdateStatus": "Expired"}
    assert (await csms.call(cancel_reservation(v, 5))).status == "Rejected"


async def test_a_remote_start_uses_the_reservation_held_for_its_token(csms, station):
    v = csms.version
    assert (await csms.call(reserve_now(v, 9, 1, "TAG-R"))).status == "Accepted"
    await csms.expect_status("Reserved", 1)
    assert (await csms.call(remote_start(v, "TAG-R", 1))).status == "Accepted"
    started = await csms.expect_started()
    assert started["reservationId"] == 9
    assert station.connectors[1].reservation is None
    await csms.expect_status("Charging", 1)


# --- transactions ---------------------------------------------------------------------------------


async def test_remote_start_meter_values_and_remote_stop(csms, station):
    v = csms.version
    assert (await csms.call(remote_start(v, "TAG-1", 1, remote_start_id=42))).status == "Accepted"
    authorize = await csms.expect("Authorize")  # AuthorizeRemoteTxRequests is true by default
    started = await csms.expect_started()
    if v == "1.6":
        assert authorize == {"idTag": "TAG-1"}
        assert started["connectorId"] == 1 and started["idTag"] == "TAG-1"
        start_wh = started["meterStart"]
    else:
        assert authorize["idToken"]["idToken"] == "TAG-1"
        assert started["triggerReason"] == "RemoteStart" and started["seqNo"] == 0
        assert started["transactionInfo"]["remoteStartId"] == 42
        assert started["evse"] == {"id": 1, "connectorId": 1}
        start_wh = energy(started)
    actions = [m.action for m in csms.messages]
    start_action = "StartTransaction" if v == "1.6" else "TransactionEvent"
    assert actions.index("Authorize") < actions.index(start_action)
    await csms.expect_status("Charging", 1)
    readings = [energy(await csms.expect_meter_values()) for _ in range(3)]
    assert start_wh <= readings[0] < readings[1] < readings[2]

    transaction_id = csms.transaction_id(started)
    assert (await csms.call(remote_stop(v, transaction_id))).status == "Accepted"
    ended = await csms.expect_ended()
    if v == "1.6":
        assert ended["transactionId"] == transaction_id and ended["reason"] == "Remote"
        assert ended["meterStop"] >= int(readings[-1])
    else:
        assert ended["triggerReason"] == "RemoteStop"
        assert ended["transactionInfo"]["stoppedReason"] == "Remote"
        assert energy(ended) >= readings[-1]
    await csms.expect_status("Available", 1)
    assert (await csms.call(remote_stop(v, transaction_id))).status == "Rejected"


async def test_a_remote_start_on_a_busy_connector_is_rejected(csms, station):
    v = csms.version
    await _charge(csms, station)
    assert (await csms.call(remote_start(v, "TAG-2", 1))).status == "Rejected"


async def test_a_remote_start_on_a_connector_reserved_for_another_token_is_rejected(csms, station):
    v = csms.version
    assert (await csms.call(reserve_now(v, 4, 1, "TAG-R"))).status == "Accepted"
    await csms.expect_status("Reserved", 1)
    assert (await csms.call(remote_start(v, "TAG-OTHER", 1))).status == "Rejected"


async def test_a_remote_start_without_a_connector_avoids_one_reserved_for_another_token(
    csms, station
):
    v = csms.version
    assert (await csms.call(reserve_now(v, 4, 1, "TAG-R"))).status == "Accepted"
    await csms.expect_status("Reserved", 1)
    assert (await csms.call(remote_start(v, "TAG-OTHER", None))).status == "Accepted"
    started = await csms.expect_started(timeout=1)
    assert (started["connectorId"] if v == "1.6" else started["evse"]["id"]) == 2


async def test_the_stop_reading_includes_the_energy_since_the_last_sample(csms, start):
    station = await start(power_w=36_000.0, meter_interval=30)  # 10 Wh a second
    started = await _charge(csms, station)
    await asyncio.sleep(0.3)  # the driver charges for 0.3 s: about 3 Wh
    assert await station.stop_transaction(1)
    ended = await csms.expect_ended()
    if csms.version == "1.6":
        delivered = ended["meterStop"] - started["meterStart"]
    else:
        delivered = energy(ended) - energy(started)
    assert delivered >= 2.5


@only16
async def test_a_shorter_heartbeat_interval_applies_at_once(csms, station):
    answer = await csms.call(call16.ChangeConfiguration(key="HeartbeatInterval", value="1"))
    assert answer.status == "Accepted"
    await csms.expect("Heartbeat", timeout=2.5)


async def test_a_transaction_refused_at_start_is_stopped_as_deauthorized(csms, station):
    csms.start_status = "Invalid"
    await _charge(csms, station)
    ended = await csms.expect_ended()
    if csms.version == "1.6":
        assert ended["reason"] == "DeAuthorized"
    else:
        assert ended["transactionInfo"]["stoppedReason"] == "DeAuthorized"
        assert ended["triggerReason"] == "Deauthorized"


@only201
async def test_get_transaction_status(start, csms):
    station = await start(meter_interval=30)
    started = await _charge(csms, station)
    await station.outbox_drained()
    tx_id = started["transactionInfo"]["transactionId"]
    running = await csms.call(call201.GetTransactionStatus(transaction_id=tx_id))
    assert running.messages_in_queue is False and running.ongoing_indicator is True
    overall = await csms.call(call201.GetTransactionStatus())
    assert overall.messages_in_queue is False and overall.ongoing_indicator is None
    assert await station.stop_transaction(1)
    await csms.expect_ended()
    await station.outbox_drained()
    done = await csms.call(call201.GetTransactionStatus(transaction_id=tx_id))
    assert done.messages_in_queue is False and done.ongoing_indicator is False


@only201
async def test_the_tariff_and_costs_are_shown_to_the_driver(start, csms):
    """I01-I03 on the station's side: the tariff in Authorize's personalMessage, the running
    cost of CostUpdated and the final totalCost of the Ended answer reach its screen."""
    csms.personal_message = "0.30 EUR/kWh"
    csms.total_cost = 4.2
    station = await start(meter_interval=30)
    started = await _charge(csms, station)
    tx_id = started["transactionInfo"]["transactionId"]
    assert await csms.call(call201.CostUpdated(total_cost=1.5, transaction_id=tx_id)) is not None
    assert station.protocol.costs[tx_id] == {"running": 1.5}
    assert await station.stop_transaction(1)
    await csms.expect_ended()
    await station.outbox_drained()
    assert station.protocol.costs[tx_id] == {"running": 1.5, "total": 4.2}
    assert station.screen == ["0.30 EUR/kWh", "Cost so far: 1.5", "Total cost: 4.2"]


# --- reset, availability, connectors --------------------------------------------------------------


async def test_reset_reconnects_and_boots_again(csms, station):
    assert (await csms.call(reset(csms.version))).status == "Accepted"
    await csms.expect_boot(connection=2)
    await asyncio.wait_for(station.online.wait(), TIMEOUT)
    assert station.stats.boots == 2


async def test_reset_stops_a_running_transaction_first(csms, station):
    started = await _charge(csms, station)
    assert (await csms.call(reset(csms.version))).status == "Accepted"
    ended = await csms.expect_ended()
    await csms.expect_boot(connection=2)
    if csms.version == "1.6":
        assert ended["reason"] == "HardReset"
        assert ended["transactionId"] == csms.transaction_id(started)
    else:
        assert ended["transactionInfo"]["stoppedReason"] == "ImmediateReset"
        assert ended["triggerReason"] == "ResetCommand"


@only201
async def test_an_on_idle_reset_waits_for_the_transaction(start, csms):
    station = await start()
    started = await _charge(csms, station)
    answer = await csms.call(call201.Reset(type="OnIdle"))
    assert answer.status == "Scheduled"
    tx_id = started["transactionInfo"]["transactionId"]
    assert (await csms.call(call201.RequestStopTransaction(transaction_id=tx_id))).status == (
        "Accepted"
    )
    await csms.expect_ended()
    await csms.expect_boot(connection=2)


@only201
async def test_after_a_reset_a_201_station_boots_with_reason_remote_reset(start, csms):
    await start()
    await csms.call(reset(csms.version))
    boot = await csms.expect_boot(connection=2)
    assert boot["reason"] == "RemoteReset"


async def test_change_availability(csms, station):
    v = csms.version
    assert (await csms.call(change_availability(v, 2, operative=False))).status == "Accepted"
    await csms.expect_status("Unavailable", 2)
    assert not station.connectors[2].operative and station.connectors[1].operative
    assert (await csms.call(change_availability(v, 2, operative=True))).status == "Accepted"
    await csms.expect_status("Available", 2)
    # During a transaction the change waits for it to end.
    await _charge(csms, station)
    assert (await csms.call(change_availability(v, 1, operative=False))).status == "Scheduled"
    assert await station.stop_transaction(1)
    await csms.expect_ended()
    await csms.expect_status("Unavailable", 1)
    # The whole station.
    assert (await csms.call(change_availability(v, 0, operative=True))).status == "Accepted"
    await csms.expect_status("Available", 1)


async def test_unlock_connector(csms, station):
    if csms.version == "1.6":
        assert (await csms.call(call16.UnlockConnector(connector_id=1))).status == "Unlocked"
        assert (await csms.call(call16.UnlockConnector(connector_id=9))).status == "NotSupported"
        await _charge(csms, station)
        assert (await csms.call(call16.UnlockConnector(connector_id=1))).status == "Unlocked"
        ended = await csms.expect_ended()
        assert ended["reason"] == "UnlockCommand"
    else:
        unlock = call201.UnlockConnector
        assert (await csms.call(unlock(evse_id=1, connector_id=1))).status == "Unlocked"
        assert (await csms.call(unlock(evse_id=9, connector_id=1))).status == "UnknownConnector"
        assert (await csms.call(unlock(evse_id=1, connector_id=2))).status == "UnknownConnector"
        await _charge(csms, station)
        answer = await csms.call(unlock(evse_id=1, connector_id=1))
        assert answer.status == "OngoingAuthorizedTransaction"


async def test_clear_cache(csms, station):
    clear = call16.ClearCache() if csms.version == "1.6" else call201.ClearCache()
    assert (await csms.call(clear)).status == "Accepted"


@pytest.mark.parametrize("message", ["StatusNotification", "Heartbeat", "BootNotification"])
async def test_trigger_message(csms, station, message):
    answer = await csms.call(trigger(csms.version, message, 1 if message[0] == "S" else None))
    assert answer.status == "Accepted"
    if message == "StatusNotification":
        triggered = await csms.expect_status("Available", 1)
        assert triggered["timestamp"]
    elif message == "BootNotification":
        await csms.expect("BootNotification")
        boot = await csms.expect("BootNotification")
        if csms.version == "2.0.1":
            assert boot["reason"] == "Triggered"
    else:
        assert await csms.expect(message) == {}


async def test_trigger_meter_values_during_a_transaction(csms, start):
    station = await start(meter_interval=30)
    started = await _charge(csms, station)
    answer = await csms.call(trigger(csms.version, "MeterValues", 1))
    assert answer.status == "Accepted"
    triggered = await csms.expect(
        "MeterValues",
        lambda p: p["meterValue"][0]["sampledValue"][0]["context"] == "Trigger",
    )
    assert energy(triggered) == pytest.approx(station.connectors[1].meter_wh, abs=0.1)
    if csms.version == "1.6":
        assert triggered["transactionId"] == csms.transaction_id(started)
    else:
        assert triggered["evseId"] == 1


@only201  # every 1.6 MessageTrigger is one the emulator can send
async def test_an_untriggerable_message_is_not_implemented(csms, station):
    answer = await csms.call(trigger(csms.version, "PublishFirmwareStatusNotification"))
    assert answer.status == "NotImplemented"


async def test_data_transfer(csms, station):
    v = csms.version
    echoed = await csms.call(data_transfer(v, VENDOR, "ping-123"))
    assert echoed.status == "Accepted" and echoed.data == "ping-123"
    assert (await csms.call(data_transfer(v, VENDOR))).status == "Accepted"
    assert (await csms.call(data_transfer(v, "com.other"))).status == "UnknownVendorId"


# --- configuration (1.6) and device model (2.0.1) -------------------------------------------------


@only16
async def test_get_and_change_configuration_16(start, csms):
    station = await start()
    everything = await csms.call(call16.GetConfiguration())
    keys = {entry["key"]: entry for entry in everything.configuration_key}
    assert keys["HeartbeatInterval"]["value"] == "300"
    assert "value" in keys["MeterValueSampleInterval"]
    assert "AuthorizationKey" in keys and "value" not in keys["AuthorizationKey"]
    assert keys["NumberOfConnectors"] == {
        "key": "NumberOfConnectors",
        "readonly": True,
        "value": "2",
    }
    assert everything.unknown_key is None

    some = await csms.call(call16.GetConfiguration(key=["HeartbeatInterval", "NoSuchKey"]))
    assert [e["key"] for e in some.configuration_key] == ["HeartbeatInterval"]
    assert some.unknown_key == ["NoSuchKey"]

    change = call16.ChangeConfiguration
    assert (await csms.call(change(key="HeartbeatInterval", value="5"))).status == "Accepted"
    again = await csms.call(call16.GetConfiguration(key=["HeartbeatInterval"]))
    assert again.configuration_key[0]["value"] == "5"
    assert station.device.integer("HeartbeatInterval") == 5
    assert (await csms.call(change(key="HeartbeatInterval", value="soon"))).status == "Rejected"
    assert (await csms.call(change(key="NumberOfConnectors", value="4"))).status == "Rejected"
    assert (await csms.call(change(key="NoSuchKey", value="1"))).status == "NotSupported"


@only16
async def test_a_new_authorization_key_is_used_on_the_next_connection_16(start, csms):
    station = await start()
    password = "a-brand-new-key-0001"
    answer = await csms.call(
        call16.ChangeConfiguration(key="AuthorizationKey", value=password.encode().hex())
    )
    assert answer.status == "Accepted"
    assert station.device.settings["AuthorizationKey"].value == password
    # The station reconnects with its new key on its own (A01), so the CSMS can revoke the old.
    await csms.expect_boot(connection=2)
    header = csms.cp.ws.request.headers["Authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == f"CP_EMU:{password}"
    hidden = await csms.call(call16.GetConfiguration(key=["AuthorizationKey"]))
    assert "value" not in hidden.configuration_key[0]


@only201
async def test_get_and_set_variables_201(start, csms):
    station = await start()

    def ref(component: str, variable: str, **extra: Any) -> dict[str, Any]:
        return {"component": {"name": component}, "variable": {"name": variable}, **extra}

    got = await csms.call(
        call201.GetVariables(
            get_variable_data=[
                ref("OCPPCommCtrlr", "HeartbeatInterval"),
                ref("NoSuchCtrlr", "Anything"),
                ref("OCPPCommCtrlr", "NoSuchVariable"),
                ref("SecurityCtrlr", "BasicAuthPassword"),
            ]
        )
    )
    results = got.get_variable_result
    assert results[0]["attribute_status"] == "Accepted"
    assert results[0]["attribute_value"] == "300"
    assert [r["attribute_status"] for r in results[1:]] == [
        "UnknownComponent",
        "UnknownVariable",
        "Rejected",
    ]
    assert "attribute_value" not in results[3]

    set_ = await csms.call(
        call201.SetVariables(
            set_variable_data=[
                ref("OCPPCommCtrlr", "HeartbeatInterval", attribute_value="5"),
                ref("SecurityCtrlr", "SecurityProfile", attribute_value="2"),
                ref("NoSuchCtrlr", "Anything", attribute_value="1"),
            ]
        )
    )
    assert [r["attribute_status"] for r in set_.set_variable_result] == [
        "Accepted",
        "Rejected",
        "UnknownComponent",
    ]
    assert station.device.integer("HeartbeatInterval") == 5
    again = await csms.call(
        call201.GetVariables(get_variable_data=[ref("OCPPCommCtrlr", "HeartbeatInterval")])
    )
    assert again.get_variable_result[0]["attribute_value"] == "5"


@only201
async def test_get_base_report_201(start, csms):
    await start()
    answer = await csms.call(call201.GetBaseReport(request_id=31, report_base="FullInventory"))
    assert answer.status == "Accepted"
    parts = [await csms.expect("NotifyReport", lambda p: p["requestId"] == 31)]
    while parts[-1]["tbc"]:
        parts.append(await csms.expect("NotifyReport", lambda p: p["requestId"] == 31))
    assert [p["seqNo"] for p in parts] == list(range(len(parts)))
    assert all(p["reportData"] for p in parts)
    data = {
        (d["component"]["name"], d["variable"]["name"]): d["variableAttribute"][0]
        for p in parts
        for d in p["reportData"]
    }
    assert data[("OCPPCommCtrlr", "HeartbeatInterval")]["value"] == "300"
    password = data[("SecurityCtrlr", "BasicAuthPassword")]
    assert password["mutability"] == "WriteOnly" and "value" not in password
    assert data[("ChargingStation", "Identity")]["value"] == "CP_EMU"


@only201
async def test_monitors_fire_events_and_are_reported_201(start, csms):
    """N04/N06/N02/N03/N05: a monitor set on a setting fires NotifyEvent when the setting crosses
    it (and clears when it is back), is reported, and cleared."""
    await start()
    heartbeat = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    answer = await csms.call(
        call201.SetVariableMonitoring(
            set_monitoring_data=[
                {"value": 600, "type": "UpperThreshold", "severity": 2, **heartbeat}
            ]
        )
    )
    [result] = answer.set_monitoring_result
    assert result["status"] == "Accepted" and result["id"] >= 1
    unsupported = await csms.call(
        call201.SetVariableMonitoring(
            set_monitoring_data=[
                {
                    "value": 1,
                    "type": "Delta",
                    "severity": 5,
                    "component": {"name": "ChargingStation"},
                    "variable": {"name": "Model"},
                }
            ]
        )
    )
    assert unsupported.set_monitoring_result[0]["status"] == "UnsupportedMonitorType"

    async def set_heartbeat(value: str) -> None:
        await csms.call(
            call201.SetVariables(set_variable_data=[{"attribute_value": value, **heartbeat}])
        )

    await set_heartbeat("900")
    event = (await csms.expect("NotifyEvent"))["eventData"][0]
    assert (event["trigger"], event["actualValue"], event["variableMonitoringId"]) == (
        "Alerting",
        "900",
        result["id"],
    )
    assert "cleared" not in event
    await set_heartbeat("300")
    back = (await csms.expect("NotifyEvent"))["eventData"][0]
    assert back["cleared"] is True

    report = await csms.call(call201.GetMonitoringReport(request_id=41))
    assert report.status == "Accepted"
    part = await csms.expect("NotifyMonitoringReport", lambda p: p["requestId"] == 41)
    assert part["monitor"][0]["variableMonitoring"][0]["id"] == result["id"]
    level = await csms.call(call201.SetMonitoringLevel(severity=1))
    assert level.status == "Accepted"  # severity 2 is now below the level: no more events
    cleared = await csms.call(call201.ClearVariableMonitoring(id=[result["id"], 999]))
    assert [r["status"] for r in cleared.clear_monitoring_result] == ["Accepted", "NotFound"]
    base = await csms.call(call201.SetMonitoringBase(monitoring_base="HardWiredOnly"))
    assert base.status == "Accepted"
    empty = await csms.call(call201.GetMonitoringReport(request_id=42))
    assert empty.status == "EmptyResultSet"


@only201
async def test_customer_information_is_reported_and_cleared_201(start, csms):
    await start()
    answer = await csms.call(
        call201.CustomerInformation(
            request_id=51, report=True, clear=True, customer_identifier="driver-7"
        )
    )
    assert answer.status == "Accepted"
    parts = [await csms.expect("NotifyCustomerInformation", lambda p: p["requestId"] == 51)]
    while parts[-1]["tbc"]:
        parts.append(await csms.expect("NotifyCustomerInformation", lambda p: p["requestId"] == 51))
    assert "".join(p["data"] for p in parts).startswith("driver-7")
    nobody = await csms.call(call201.CustomerInformation(request_id=52, report=True, clear=False))
    assert nobody.status == "Invalid"


@only201
async def test_display_messages_are_set_reported_replaced_and_cleared_201(start, csms):
    """O01-O06 on the station's side: supported formats and priorities only, the same id
    replaces, GetDisplayMessages reports them, ClearDisplayMessage removes one."""
    await start()

    def message(id_: int, text: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": id_,
            "priority": extra.pop("priority", "NormalCycle"),
            "message": {"format": extra.pop("format", "UTF8"), "content": text},
            **extra,
        }

    assert (await csms.call(call201.SetDisplayMessage(message=message(1, "Hello")))).status == (
        "Accepted"
    )
    replaced = await csms.call(call201.SetDisplayMessage(message=message(1, "Hello again")))
    assert replaced.status == "Accepted"
    uri = await csms.call(call201.SetDisplayMessage(message=message(2, "x", format="URI")))
    assert uri.status == "NotSupportedMessageFormat"
    unknown_tx = await csms.call(
        call201.SetDisplayMessage(message=message(3, "x", transaction_id="nope"))
    )
    assert unknown_tx.status == "UnknownTransaction"
    report = await csms.call(call201.GetDisplayMessages(request_id=71))
    assert report.status == "Accepted"
    notified = await csms.expect("NotifyDisplayMessages", lambda p: p["requestId"] == 71)
    assert [m["message"]["content"] for m in notified["messageInfo"]] == ["Hello again"]
    assert (await csms.call(call201.ClearDisplayMessage(id=1))).status == "Accepted"
    assert (await csms.call(call201.ClearDisplayMessage(id=1))).status == "Unknown"
    assert (await csms.call(call201.GetDisplayMessages(request_id=72))).status == "Unknown"


@only201
async def test_set_network_profile_201(start, csms):
    """B09: a profile in a free slot is Accepted; one below the station's security profile, or
    in a slot it does not have, is Rejected."""
    await start()

    def profile(security: int) -> dict:
        return {
            "ocpp_version": "OCPP20",
            "ocpp_transport": "JSON",
            "ocpp_csms_url": "wss://csms.example.com/ocpp/",
            "message_timeout": 30,
            "security_profile": security,
            "ocpp_interface": "Wired0",
        }

    accepted = await csms.call(
        call201.SetNetworkProfile(configuration_slot=1, connection_data=profile(2))
    )
    assert accepted.status == "Accepted"
    downgrade = await csms.call(
        call201.SetNetworkProfile(configuration_slot=2, connection_data=profile(0))
    )
    assert downgrade.status == "Rejected"
    assert downgrade.status_info["reason_code"] == "NoSecurityDowngrade"
    no_slot = await csms.call(
        call201.SetNetworkProfile(configuration_slot=9, connection_data=profile(2))
    )
    assert no_slot.status == "Rejected"


@only201
async def test_get_report_for_one_component_201(start, csms):
    await start()
    answer = await csms.call(
        call201.GetReport(request_id=32, component_variable=[{"component": {"name": "AuthCtrlr"}}])
    )
    assert answer.status == "Accepted"
    report = await csms.expect("NotifyReport", lambda p: p["requestId"] == 32)
    assert report["tbc"] is False
    assert {d["component"]["name"] for d in report["reportData"]} == {"AuthCtrlr"}
    unknown = await csms.call(
        call201.GetReport(request_id=33, component_variable=[{"component": {"name": "Nope"}}])
    )
    assert unknown.status == "EmptyResultSet"


@only201
async def test_get_report_for_one_variable_201(start, csms):
    await start()
    wanted = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    answer = await csms.call(call201.GetReport(request_id=34, component_variable=[wanted]))
    assert answer.status == "Accepted"
    report = await csms.expect("NotifyReport", lambda p: p["requestId"] == 34)
    assert [d["variable"]["name"] for d in report["reportData"]] == ["HeartbeatInterval"]


# --- smart charging --------------------------------------------------------------------------------

LIMIT_W = 3680.0


def tx_profile(version: str, transaction_id: int | str, profile_id: int = 10) -> dict[str, Any]:
    if version == "1.6":
        return {
            "charging_profile_id": profile_id,
            "transaction_id": transaction_id,
            "stack_level": 0,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Relative",
            "charging_schedule": {
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": LIMIT_W}],
            },
        }
    return {  # 16 A on one phase: 3680 W
        "id": profile_id,
        "transaction_id": transaction_id,
        "stack_level": 0,
        "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": [
            {
                "id": 1,
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 16, "number_phases": 1}],
            }
        ],
    }


def set_profile(version: str, connector: int, profile: dict[str, Any]):
    if version == "1.6":
        return call16.SetChargingProfile(connector_id=connector, cs_charging_profiles=profile)
    return call201.SetChargingProfile(evse_id=connector, charging_profile=profile)


def composite(version: str, connector: int, unit: str = "W"):
    if version == "1.6":
        return call16.GetCompositeSchedule(
            connector_id=connector, duration=3600, charging_rate_unit=unit
        )
    return call201.GetCompositeSchedule(duration=3600, evse_id=connector, charging_rate_unit=unit)


def composite_limit(version: str, answer: Any) -> float:
    schedule = answer.charging_schedule if version == "1.6" else answer.schedule
    return float(schedule["charging_schedule_period"][0]["limit"])


def clear_profile(version: str, profile_id: int):
    if version == "1.6":
        return call16.ClearChargingProfile(id=profile_id)
    return call201.ClearChargingProfile(charging_profile_id=profile_id)


def rate_w(first: dict[str, Any], last: dict[str, Any]) -> float:
    """The mean power between two meter value messages, from their readings and timestamps."""
    seconds = (
        datetime.fromisoformat(last["meterValue"][0]["timestamp"])
        - datetime.fromisoformat(first["meterValue"][0]["timestamp"])
    ).total_seconds()
    return (energy(last) - energy(first)) * 3600 / seconds


async def test_a_charging_profile_limits_the_power(start, csms):
    v = csms.version
    station = await start(power_w=110_000.0, meter_interval=0.1)
    started = await _charge(csms, station)
    full = [await csms.expect_meter_values() for _ in range(4)]
    assert all(samples(p, POWER) == [110_000.0] for p in full)
    assert rate_w(full[0], full[-1]) > 50_000

    answer = await csms.call(set_profile(v, 1, tx_profile(v, csms.transaction_id(started))))
    assert answer.status == "Accepted"
    limited: list[dict[str, Any]] = []
    while len(limited) < 6:
        payload = await csms.expect_meter_values()
        if samples(payload, POWER)[0] <= LIMIT_W:
            limited.append(payload)
    assert all(samples(p, POWER) == [LIMIT_W] for p in limited)
    # Readings rise more slowly (registers have 0.1 Wh steps: a margin for rounding).
    assert rate_w(limited[0], limited[-1]) < LIMIT_W * 1.3

    schedule = await csms.call(composite(v, 1, "W"))
    assert schedule.status == "Accepted" and composite_limit(v, schedule) == LIMIT_W
    unlimited = await csms.call(composite(v, 2, "W"))
    assert composite_limit(v, unlimited) == 110_000.0

    assert (await csms.call(clear_profile(v, 10))).status == "Accepted"
    await csms.expect(
        "MeterValues" if v == "1.6" else "TransactionEvent",
        lambda p: samples(p, POWER) == [110_000.0],
    )
    assert (await csms.call(clear_profile(v, 10))).status == "Unknown"


@only201
async def test_the_composite_schedule_of_a_single_phase_profile_in_amps(start, csms):
    station = await start(meter_interval=30)
    started = await _charge(csms, station)
    tx_id = started["transactionInfo"]["transactionId"]
    assert (await csms.call(set_profile("2.0.1", 1, tx_profile("2.0.1", tx_id)))).status == (
        "Accepted"
    )
    schedule = await csms.call(composite("2.0.1", 1, "A"))
    period = schedule.schedule["charging_schedule_period"][0]
    assert float(period["limit"]) == 16.0


async def test_a_tx_profile_without_a_transaction_is_rejected(csms, station):
    transaction_id = 4242 if csms.version == "1.6" else "no-such-transaction"
    answer = await csms.call(set_profile(csms.version, 1, tx_profile(csms.version, transaction_id)))
    assert answer.status == "Rejected"


# --- local authorization list ----------------------------------------------------------------------


async def test_local_list(csms, station):
    v = csms.version
    if v == "1.6":

        def send(version_number: int, update: str, entries: dict[str, str | None]):
            return call16.SendLocalList(
                list_version=version_number,
                update_type=update,
                local_authorization_list=[
                    {"id_tag": tag, **({"id_tag_info": {"status": s}} if s else {})}
                    for tag, s in entries.items()
                ],
            )

        def list_version(answer: Any) -> int:
            return answer.list_version

        get_version = call16.GetLocalListVersion
    else:

        def send(version_number: int, update: str, entries: dict[str, str | None]):
            return call201.SendLocalList(
                version_number=version_number,
                update_type=update,
                local_authorization_list=[
                    {"id_token": id_token(tag), **({"id_token_info": {"status": s}} if s else {})}
                    for tag, s in entries.items()
                ],
            )

        def list_version(answer: Any) -> int:
            return answer.version_number

        get_version = call201.GetLocalListVersion

    assert list_version(await csms.call(get_version())) == 0
    answer = await csms.call(send(1, "Full", {"LOCAL-1": "Accepted", "LOCAL-2": "Accepted"}))
    assert answer.status == "Accepted"
    assert list_version(await csms.call(get_version())) == 1
    answer = await csms.call(send(2, "Differential", {"LOCAL-2": None, "LOCAL-3": "Blocked"}))
    assert answer.status == "Accepted"
    assert list_version(await csms.call(get_version())) == 2
    assert station.local_list == {"LOCAL-1": "Accepted", "LOCAL-3": "Blocked"}
    stale = await csms.call(send(2, "Differential", {"LOCAL-4": "Accepted"}))
    assert stale.status == "VersionMismatch"
    assert list_version(await csms.call(get_version())) == 2
    assert (await csms.call(send(5, "Full", {"LOCAL-9": "Accepted"}))).status == "Accepted"
    assert station.local_list == {"LOCAL-9": "Accepted"}


# --- diagnostics, logs, firmware -------------------------------------------------------------------


class UploadTarget:
    """A log server on loopback, as an operator's own would be: it takes PUTs and keeps them."""

    def __init__(self) -> None:
        import http.server
        import threading

        received: dict[str, bytes] = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                received[self.path] = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upload_target():
    target = UploadTarget()
    yield target
    target.close()


async def test_diagnostics_and_logs_are_uploaded_over_http(csms, station, upload_target):
    url = f"{upload_target.url}/logs/{station.identity}"
    if csms.version == "1.6":
        answer = await csms.call(call16.GetDiagnostics(location=url))
        assert answer.file_name
        first = await csms.expect("DiagnosticsStatusNotification")
        second = await csms.expect("DiagnosticsStatusNotification")
        assert [first["status"], second["status"]] == ["Uploading", "Uploaded"]
        # The security whitepaper's GetLog.
        secured = await csms.call(
            call16.GetLog(log={"remote_location": url}, log_type="SecurityLog", request_id=57)
        )
        assert secured.status == "Accepted"
        await csms.expect("LogStatusNotification")
        assert await csms.expect("LogStatusNotification") == {"status": "Uploaded", "requestId": 57}
    else:
        answer = await csms.call(
            call201.GetLog(log={"remote_location": url}, log_type="DiagnosticsLog", request_id=55)
        )
        assert answer.status == "Accepted" and answer.filename
        first = await csms.expect("LogStatusNotification")
        second = await csms.expect("LogStatusNotification")
        assert first == {"status": "Uploading", "requestId": 55}
        assert second == {"status": "Uploaded", "requestId": 55}
    assert station.identity.encode() in upload_target.received[f"/logs/{station.identity}"]


async def test_an_upload_the_emulator_cannot_make_is_reported_failed(csms, station):
    """Only HTTP(S) is spoken: an ftp:// location (or a server that refuses) ends in the version's
    failure status, never in a false Uploaded."""
    if csms.version == "1.6":
        await csms.call(call16.GetDiagnostics(location="ftp://example.org/upload/"))
        await csms.expect("DiagnosticsStatusNotification")
        assert (await csms.expect("DiagnosticsStatusNotification"))["status"] == "UploadFailed"
    else:
        await csms.call(
            call201.GetLog(
                log={"remote_location": "ftp://example.org/upload/"},
                log_type="SecurityLog",
                request_id=56,
            )
        )
        await csms.expect("LogStatusNotification")
        last = await csms.expect("LogStatusNotification")
        assert last == {"status": "UploadFailure", "requestId": 56}


async def test_a_certificate_is_renewed_installed_listed_and_deleted(csms, station):
    """The emulator's certificates (A02, M03-M05; the 1.6 whitepaper) against the library's CSMS:
    a triggered CSR with the station's identity and organization, the signed chain accepted only
    for its own key, a root installed, listed by its hash data and deleted."""
    from cryptography import x509 as x509_

    from certificates.authority import pem
    from stations import certificates as tls

    ca = tls.authority("Interop CA")
    if csms.version == "1.6":
        trigger = call16.ExtendedTriggerMessage(requested_message="SignChargePointCertificate")
    else:
        trigger = call201.TriggerMessage(requested_message="SignChargingStationCertificate")
    assert (await csms.call(trigger)).status == "Accepted"
    csr = x509_.load_pem_x509_csr((await csms.expect("SignCertificate"))["csr"].encode())
    common_name = csr.subject.get_attributes_for_oid(x509_.oid.NameOID.COMMON_NAME)[0].value
    assert common_name == station.identity and csr.is_signature_valid
    stranger = tls.station(ca, station.identity).certificate  # the right name, another key
    signed = call16.CertificateSigned if csms.version == "1.6" else call201.CertificateSigned
    assert (await csms.call(signed(certificate_chain=pem([stranger])))).status == "Rejected"

    root_type = "CentralSystemRootCertificate" if csms.version == "1.6" else "CSMSRootCertificate"
    install = call16.InstallCertificate if csms.version == "1.6" else call201.InstallCertificate
    answer = await csms.call(install(certificate_type=root_type, certificate=pem([ca.certificate])))
    assert answer.status == "Accepted"
    if csms.version == "1.6":
        listed = await csms.call(call16.GetInstalledCertificateIds(certificate_type=root_type))
        hash_data = listed.certificate_hash_data[0]
    else:
        listed = await csms.call(call201.GetInstalledCertificateIds(certificate_type=[root_type]))
        hash_data = listed.certificate_hash_data_chain[0]["certificate_hash_data"]
    assert listed.status == "Accepted"
    delete = call16.DeleteCertificate if csms.version == "1.6" else call201.DeleteCertificate
    assert (await csms.call(delete(certificate_hash_data=hash_data))).status == "Accepted"
    assert (await csms.call(delete(certificate_hash_data=hash_data))).status == "NotFound"


class FirmwareServer:
    """A vendor's download server on loopback: it serves one image at /fw.bin."""

    def __init__(self, image: bytes) -> None:
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(image)))
                self.end_headers()
                self.wfile.write(image)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fw.bin"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


IMAGE = b"EMULATOR-FIRMWARE 2.0.0\nthe rest of the image\n"


@pytest.fixture
def firmware_server():
    server = FirmwareServer(IMAGE)
    yield server
    server.close()


def signed(image: bytes):
    """A manufacturer's signing certificate and the image's signature (base64)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from certificates.authority import pem
    from stations import certificates as tls

    signer = tls.station(tls.authority("Manufacturer"), "firmware-signer")
    signature = signer.key.sign(image, ec.ECDSA(hashes.SHA256()))
    return pem([signer.certificate]), base64.b64encode(signature).decode()


@only201
async def test_installed_charging_profiles_are_reported(csms, station):
    """K09: GetChargingProfiles answered with ReportChargingProfiles, one per EVSE (tbc on all but
    the last); NoProfiles when none matches."""
    schedule = {
        "id": 1,
        "charging_rate_unit": "A",
        "charging_schedule_period": [{"start_period": 0, "limit": 16}],
    }
    for evse, profile_id in ((1, 11), (2, 12)):
        answer = await csms.call(
            call201.SetChargingProfile(
                evse_id=evse,
                charging_profile={
                    "id": profile_id,
                    "stack_level": 0,
                    "charging_profile_purpose": "TxDefaultProfile",
                    "charging_profile_kind": "Relative",
                    "charging_schedule": [schedule],
                },
            )
        )
        assert answer.status == "Accepted"
    answer = await csms.call(
        call201.GetChargingProfiles(
            request_id=5, charging_profile={"charging_profile_purpose": "TxDefaultProfile"}
        )
    )
    assert answer.status == "Accepted"
    first = await csms.expect("ReportChargingProfiles")
    second = await csms.expect("ReportChargingProfiles")
    assert [(r["evseId"], r["tbc"]) for r in (first, second)] == [(1, True), (2, False)]
    assert first["chargingProfile"][0]["id"] == 11 and first["requestId"] == 5
    none = await csms.call(
        call201.GetChargingProfiles(request_id=6, charging_profile={"charging_profile_id": [99]})
    )
    assert none.status == "NoProfiles"


async def test_update_firmware_downloads_installs_and_boots_the_new_version(
    csms, station, firmware_server
):
    if csms.version == "1.6":
        await csms.call(
            call16.UpdateFirmware(location=firmware_server.url, retrieve_date=timestamp())
        )
        steps = ["Downloading", "Downloaded", "Installing", "Installed"]
    else:
        answer = await csms.call(
            call201.UpdateFirmware(
                request_id=66,
                firmware={"location": firmware_server.url, "retrieve_date_time": timestamp()},
            )
        )
        assert answer.status == "Accepted"
        steps = ["Downloading", "Downloaded", "Installing", "InstallRebooting"]
    statuses = [(await csms.expect("FirmwareStatusNotification"))["status"] for _ in steps]
    assert statuses == steps
    boot = await csms.expect("BootNotification", connection=2)
    if csms.version == "1.6":
        assert boot["firmwareVersion"] == "2.0.0"
    else:
        assert boot["chargingStation"]["firmwareVersion"] == "2.0.0"
        assert boot["reason"] == "FirmwareUpdate"
        installed = await csms.expect("FirmwareStatusNotification")
        assert installed == {"status": "Installed", "requestId": 66}
    triggered = await csms.call(trigger(csms.version, "FirmwareStatusNotification"))
    assert triggered.status == "Accepted"
    assert (await csms.expect("FirmwareStatusNotification"))["status"] == "Installed"


async def test_a_signed_update_is_verified_and_a_bad_signature_refused(
    csms, station, firmware_server
):
    certificate, signature = signed(IMAGE)
    _, wrong = signed(b"another image")
    firmware = {
        "location": firmware_server.url,
        "retrieve_date_time": timestamp(),
        "signing_certificate": certificate,
    }
    if csms.version == "1.6":
        update = call16.SignedUpdateFirmware
        action = "SignedFirmwareStatusNotification"
    else:
        update = call201.UpdateFirmware
        action = "FirmwareStatusNotification"
    answer = await csms.call(update(request_id=70, firmware={**firmware, "signature": wrong}))
    assert answer.status == "Accepted"
    statuses = [(await csms.expect(action))["status"] for _ in range(3)]
    assert statuses == ["Downloading", "Downloaded", "InvalidSignature"]
    answer = await csms.call(update(request_id=71, firmware={**firmware, "signature": signature}))
    statuses = [(await csms.expect(action))["status"] for _ in range(4)]
    assert statuses == ["Downloading", "Downloaded", "SignatureVerified", "Installing"]


@only201
async def test_a_local_controller_publishes_and_unpublishes_firmware(
    csms, station, firmware_server
):
    import hashlib

    checksum = hashlib.md5(IMAGE, usedforsecurity=False).hexdigest()
    answer = await csms.call(
        call201.PublishFirmware(location=firmware_server.url, checksum=checksum, request_id=80)
    )
    assert answer.status == "Accepted"
    statuses = [(await csms.expect("PublishFirmwareStatusNotification")) for _ in range(4)]
    assert [s["status"] for s in statuses] == [
        "Downloading",
        "Downloaded",
        "ChecksumVerified",
        "Published",
    ]
    assert statuses[-1]["location"] and statuses[-1]["requestId"] == 80
    assert (await csms.call(call201.UnpublishFirmware(checksum=checksum))).status == "Unpublished"
    assert (await csms.call(call201.UnpublishFirmware(checksum=checksum))).status == "NoFirmware"


# --- coverage --------------------------------------------------------------------------------------


def test_every_csms_command_is_sent_to_the_emulator_here():
    source = Path(__file__).read_text()
    used = {
        "1.6": set(re.findall(r"call16\.(\w+)\b", source)),
        "2.0.1": set(re.findall(r"call201\.(\w+)\b", source)),
    }
    for version, actions in CSMS_ACTIONS.items():
        assert set(actions) <= used[version], set(actions) - used[version]
