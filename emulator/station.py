"""An emulated charging station: the station side of OCPP-J, over one WebSocket at a time.

It behaves like a real station because the things that break CSMSs in the field are behaviours, not
messages: it boots and retries while Pending or Rejected, reports every connector, heartbeats at the
interval it is given, sends one CALL at a time, reconnects with exponential back-off and jitter, and
keeps transaction messages in an ordered outbox that survives disconnections, so every start, meter
value and stop is delivered, in order, at least once (the CSMS's idempotency makes it exactly once).

A payload in the outbox is built when first sent and then frozen: a resend after a lost answer is
byte-for-byte the same message, and a 1.6 MeterValues or StopTransaction queued while offline is
built only after the StartTransaction before it was answered, so it carries the CSMS's transactionId.

Version specifics (payload shapes, the commands a CSMS sends) live in `emulator.v16` and
`emulator.v201`; this module knows neither.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import ssl
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets
from opentelemetry.trace import SpanKind
from websockets.exceptions import InvalidHandshake, InvalidStatus

from emulator.device import Device
from ocppj import CallErrorReceived, RpcEndpoint, telemetry
from ocppj.errors import InvalidResponse

logger = logging.getLogger("emulator")
frames_logger = logging.getLogger("emulator.frames")
# websockets' own frame log, per station; `emulate --log-lifecycle` shows its pings and pongs.
websocket_logger = logging.getLogger("emulator.websocket")

SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


@dataclass
class StationOptions:
    identity: str
    url: str = "ws://127.0.0.1:8000/ocpp/"
    protocol: str = "2.0.1"
    password: str | None = None
    connectors: int = 1
    vendor: str = "CSMS-Emulator"
    model: str = "Virtual-1"
    serial_number: str = ""
    firmware_version: str = "1.0.0"
    power_w: float = 11_000.0
    call_timeout: float = 30.0
    meter_interval: float | None = None  # None: MeterValueSampleInterval / TxUpdatedInterval
    heartbeat_interval: float | None = None  # None: the interval the CSMS gives at boot
    reconnect: bool = True
    # Seconds per second of the RetryBackOff* and TransactionMessageRetryInterval settings, which
    # are whole seconds: tests shrink the station's waits after a failure (0.05: 50 ms per second).
    retry_unit: float = 1.0
    clock_skew_seconds: float = 0.0
    ssl_context: ssl.SSLContext | None = None
    ping_interval: float | None = 20.0  # WebSocket keepalive pings; None: only answer the CSMS's
    # Fault injection, to reproduce field bugs in a CSMS.
    duplicate_messages: bool = False  # send every transaction message twice
    out_of_order: bool = False  # swap consecutive meter messages before sending


@dataclass
class Reservation:
    id: int
    id_token: str
    expires_at: datetime


@dataclass
class Transaction:
    local_id: str
    evse_id: int
    id_token: str
    meter_start_wh: float
    started_at: datetime
    csms_id: int | str | None = None  # 1.6: StartTransaction.conf; 2.0.1: our own id
    seq_no: int = 0
    remote_start_id: int | None = None
    reservation_id: int | None = None
    meter_task: asyncio.Task | None = None
    deauthorized: bool = False

    def next_seq_no(self) -> int:
        value = self.seq_no
        self.seq_no += 1
        return value


@dataclass
class Connector:
    evse_id: int
    meter_wh: float
    status: str = "Available"  # 1.6 vocabulary; `emulator.v201` maps it to ConnectorStatus
    operative: bool = True
    faulted: bool = False
    reservation: Reservation | None = None
    transaction: Transaction | None = None
    limit_w: float | None = None  # from charging profiles
    metered_at: float | None = None  # loop time of the last meter advance

    @property
    def free(self) -> bool:
        return self.operative and not self.faulted and self.transaction is None

    def available_for(self, id_token: str, now: datetime) -> bool:
        """Free, and not held by a reservation for someone else."""
        reservation = self.reservation
        held = reservation is not None and reservation.expires_at > now
        return self.free and (not held or reservation.id_token == id_token)


@dataclass
class OutboxItem:
    action: str
    build: Callable[[], dict[str, Any]]
    on_answer: Callable[[dict[str, Any]], Any] | None = None
    payload: dict[str, Any] | None = None
    attempts: int = 0


@dataclass
class Stats:
    sent: int = 0
    received: int = 0
    connects: int = 0
    boots: int = 0
    dropped: int = 0


class EmulatedStation:
    def __init__(self, options: StationOptions, *, rng: random.Random | None = None):
        from emulator.v16 import Protocol16
        from emulator.v201 import Protocol201

        self.options = options
        self.identity = options.identity
        self.rng = rng or random.Random()
        self.device = Device(
            connectors=options.connectors,
            identity=options.identity,
            vendor=options.vendor,
            model=options.model,
            serial=options.serial_number or f"EMU-{options.identity}",
        )
        if options.password:
            self.device.settings["AuthorizationKey"].value = options.password
        self.connectors = {
            i: Connector(i, meter_wh=float(self.rng.randint(0, 5_000_000)))
            for i in range(1, options.connectors + 1)
        }
        self.protocol = (Protocol16 if options.protocol == "1.6" else Protocol201)(self)
        self.outbox: deque[OutboxItem] = deque()
        self._outbox_changed = asyncio.Event()
        self._outbox_empty = asyncio.Event()
        self._outbox_empty.set()
        self.rpc: RpcEndpoint | None = None
        self.online = asyncio.Event()  # connected and accepted
        self.boot_answer: dict[str, Any] | None = None
        self.stats = Stats()
        self._stop = asyncio.Event()
        self._reconnect_now = asyncio.Event()
        self._ws: Any = None
        self._tasks: set[asyncio.Task] = set()
        self.pending_reset: str | None = None
        self.boot_reason = "PowerUp"  # RemoteReset after a Reset (2.0.1 BootReasonEnumType)
        self.heartbeat_changed = asyncio.Event()
        self.device.on_change = self._setting_changed
        self.local_list: dict[str, str] = {}
        self.local_list_version = 0

    # --- clock ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.options.clock_skew_seconds)

    def timestamp(self) -> str:
        return self.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # --- connection loop ------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Connect, boot, live; on a lost connection back off and reconnect, until stopped."""
        attempt = 0
        while not self._stop.is_set():
            try:
                with self._connection_span():
                    async with self._connect() as ws:
                        attempt = 0
                        await self._session(ws)
            except (OSError, InvalidHandshake, TimeoutError, websockets.ConnectionClosed) as error:
                logger.info("%s: connection failed: %s", self.identity, _describe(error))
            if self._stop.is_set() or not self.options.reconnect:
                return
            delay = 0.0 if self._reconnect_now.is_set() else self.backoff(attempt)
            self._reconnect_now.clear()
            attempt += 1
            logger.info("%s: reconnecting in %.1f s", self.identity, delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()

    def _connection_span(self):
        """One span per WebSocket connection: the parent of every message on it, on both sides
        (its traceparent travels in the handshake headers)."""
        return telemetry.tracer.start_as_current_span(
            "ocpp.station.connection",
            kind=SpanKind.CLIENT,
            attributes={
                "ocpp.station_id": self.identity,
                "ocpp.protocol": self.options.protocol,
                "server.address": self.options.url,
            },
        )

    async def boot_once(self) -> dict[str, Any]:
        """Connect, send one BootNotification, return the answer, disconnect (`emulate --once`)."""
        with self._connection_span():
            return await self._boot_once()

    async def _boot_once(self) -> dict[str, Any]:
        async with self._connect() as ws:
            self.rpc = self._endpoint(ws)
            reader = asyncio.create_task(self._read(ws))
            try:
                return await self.rpc.call("BootNotification", self.protocol.boot_payload())
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                self.rpc = None

    def backoff(self, attempt: int) -> float:
        """2.0.1 B.RetryBackOff: minimum x 2^attempt (capped by RepeatTimes) + random jitter."""
        minimum = self.device.integer("RetryBackOffWaitMinimum")
        repeats = self.device.integer("RetryBackOffRepeatTimes")
        jitter = self.rng.uniform(0, self.device.integer("RetryBackOffRandomRange"))
        return (minimum * 2 ** min(attempt, repeats) + jitter) * self.options.retry_unit

    def _connect(self):
        headers = {}
        password = self.device.settings["AuthorizationKey"].value
        if password:
            token = base64.b64encode(f"{self.identity}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        telemetry.inject(headers)  # traceparent of the connection span, when tracing
        url = self.options.url.rstrip("/") + "/" + self.identity
        tls = {"ssl": self.options.ssl_context} if self.options.ssl_context else {}
        return websockets.connect(
            url,
            subprotocols=[SUBPROTOCOL[self.options.protocol]],
            additional_headers=headers,
            open_timeout=self.options.call_timeout,
            max_size=2**20,
            ping_interval=self.options.ping_interval,
            logger=logging.LoggerAdapter(websocket_logger, {"station": self.identity}),
            **tls,  # wss:// without a context: the system's trusted CAs
        )

    async def _session(self, ws: Any) -> None:
        self._ws = ws
        self.stats.connects += 1
        logger.info("%s: connected to %s (%s)", self.identity, ws.request.path, ws.subprotocol)
        self.rpc = self._endpoint(ws)
        reader = asyncio.create_task(self._read(ws))
        session_tasks: list[asyncio.Task] = []
        try:
            if await self._boot(reader):
                self.online.set()
                await self._report_all_statuses()
                session_tasks = [
                    asyncio.create_task(self._heartbeats()),
                    asyncio.create_task(self._deliver_outbox()),
                ]
            await reader
        finally:
            self.online.clear()
            for task in [reader, *session_tasks]:
                task.cancel()
            for task in [reader, *session_tasks]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.rpc.cancel_pending()
            self.rpc = None
            self._ws = None
            logger.info("%s: disconnected", self.identity)

    def _endpoint(self, ws: Any) -> RpcEndpoint:
        return RpcEndpoint(
            version=self.options.protocol,
            handler=self.protocol,
            send=ws.send,
            call_timeout=self.options.call_timeout,
            observer=self._observe,
            name=self.identity,
        )

    async def _read(self, ws: Any) -> None:
        rpc = self.rpc  # this socket's endpoint, even after the session has let it go
        try:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for text in ws:
                    self.stats.received += 1
                    await rpc.receive(text)
        finally:
            # Whatever waits for an answer on this socket will not get one: fail it now, not
            # after call_timeout, so the session ends and the station reconnects at once.
            rpc.cancel_pending()

    async def _boot(self, reader: asyncio.Task) -> bool:
        """BootNotification until Accepted; while Pending or Rejected, wait the interval given."""
        while not reader.done():
            try:
                answer = await self.rpc.call(
                    "BootNotification", self.protocol.boot_payload(self.boot_reason)
                )
            except (CallErrorReceived, InvalidResponse, TimeoutError) as error:
                logger.warning("%s: BootNotification failed: %s", self.identity, error)
                answer = {"status": "Rejected", "interval": 10}
            except (ConnectionError, websockets.ConnectionClosed):
                return False
            self.stats.boots += 1
            self.boot_answer = answer
            logger.info("%s: BootNotification %s", self.identity, answer["status"])
            if answer["status"] == "Accepted":
                self.boot_reason = "PowerUp"
                if self.options.heartbeat_interval is None and answer.get("interval"):
                    self.device.settings["HeartbeatInterval"].value = str(answer["interval"])
                return True
            wait = answer.get("interval") or 10
            done, _ = await asyncio.wait({reader}, timeout=wait)
            if done:
                return False
        return False

    def close_connection(self, *, reconnect_now: bool = False) -> None:
        """Drop the socket (Reset, fault injection). The run loop reconnects."""
        if reconnect_now:
            self._reconnect_now.set()
        if self._ws is not None:
            self.spawn(self._ws.close())

    def drop_connection(self) -> None:
        """Fault injection: vanish without a closing handshake, as a station losing power does."""
        if self._ws is not None:
            self._ws.transport.abort()

    # --- sending ----------------------------------------------------------------------------------

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send a message that is not worth keeping across a disconnection (status, heartbeat).
        Returns None when offline or when the CSMS refused it."""
        if self.rpc is None or (not self.online.is_set() and action != "BootNotification"):
            return None
        try:
            return await self.rpc.call(action, payload)
        except (
            CallErrorReceived,
            InvalidResponse,
            TimeoutError,
            ConnectionError,
            websockets.ConnectionClosed,
        ) as error:
            logger.warning("%s: %s failed: %s", self.identity, action, error)
            return None

    def enqueue(
        self,
        action: str,
        build: Callable[[], dict[str, Any]],
        on_answer: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        """Queue a transaction message: delivered in order, at least once, whenever online."""
        self.outbox.append(OutboxItem(action, build, on_answer))
        self._outbox_empty.clear()
        self._outbox_changed.set()

    async def _deliver_outbox(self) -> None:
        while True:
            while self.outbox:
                if self.options.out_of_order:
                    self._swap_meter_messages()
                item = self.outbox[0]
                if item.payload is None:
                    item.payload = item.build()
                try:
                    answer = await self.rpc.call(item.action, item.payload)
                except (ConnectionError, websockets.ConnectionClosed):
                    return  # the session ended; the item stays first in line
                except (CallErrorReceived, TimeoutError, InvalidResponse) as error:
                    item.attempts += 1
                    if item.attempts >= self.device.integer("TransactionMessageAttempts"):
                        logger.error(
                            "%s: dropping %s after %d attempts: %s",
                            self.identity,
                            item.action,
                            item.attempts,
                            error,
                        )
                        self.stats.dropped += 1
                        self._pop_outbox()
                        continue
                    delay = (
                        self.device.integer("TransactionMessageRetryInterval")
                        * item.attempts
                        * self.options.retry_unit
                    )
                    logger.warning(
                        "%s: %s failed (%s); retry in %.2f s",
                        self.identity,
                        item.action,
                        error,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                if self.options.duplicate_messages:
                    # The resend a station makes when it missed the answer: same message, new id.
                    with contextlib.suppress(CallErrorReceived, InvalidResponse, TimeoutError):
                        await self.rpc.call(item.action, item.payload)
                if item.on_answer is not None:
                    result = item.on_answer(answer)
                    if asyncio.iscoroutine(result):
                        await result
                self._pop_outbox()
            self._outbox_changed.clear()
            await self._outbox_changed.wait()

    def _swap_meter_messages(self) -> None:
        if len(self.outbox) < 2 or self.outbox[0].payload is not None:
            return
        first, second = self.outbox[0], self.outbox[1]
        if all(self.protocol.is_meter_message(i) for i in (first, second)):
            self.outbox[0], self.outbox[1] = second, first

    def _pop_outbox(self) -> None:
        self.outbox.popleft()
        if not self.outbox:
            self._outbox_empty.set()

    async def outbox_drained(self) -> None:
        """Wait until every queued transaction message has been delivered."""
        await self._outbox_empty.wait()

    async def _heartbeats(self) -> None:
        while True:
            interval = self.options.heartbeat_interval or self.device.integer("HeartbeatInterval")
            self.heartbeat_changed.clear()
            try:
                async with asyncio.timeout(max(interval, 1)):
                    await self.heartbeat_changed.wait()
                continue  # a new interval: start counting it now
            except TimeoutError:
                pass
            await self.call("Heartbeat", {})

    def _setting_changed(self, key: str) -> None:
        if key == "HeartbeatInterval":
            self.heartbeat_changed.set()

    def spawn(self, awaitable: Awaitable[Any]) -> asyncio.Task:
        """Run in the background; the station keeps a reference until it finishes."""
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _observe(
        self, direction: str, text: str, message_type: int, unique_id: str, action: str
    ) -> None:
        if direction == "out":
            self.stats.sent += 1
        if frames_logger.isEnabledFor(logging.INFO):
            verb = "send" if direction == "out" else "receive message"
            frames_logger.info("%s: %s %s", self.identity, verb, text)

    # --- connectors -----------------------------------------------------------------------------

    async def set_status(self, evse_id: int, status: str) -> None:
        connector = self.connectors[evse_id]
        if connector.status == status:
            return
        connector.status = status
        await self.call("StatusNotification", self.protocol.status_payload(connector))

    async def _report_all_statuses(self) -> None:
        for connector in self.connectors.values():
            await self.call("StatusNotification", self.protocol.status_payload(connector))

    def idle_status(self, connector: Connector) -> str:
        """What a connector without a transaction shows."""
        if connector.faulted:
            return "Faulted"
        if not connector.operative:
            return "Unavailable"
        reservation = connector.reservation
        if reservation is not None and reservation.expires_at > self.now():
            return "Reserved"
        return "Available"

    async def refresh_status(self, connector: Connector) -> None:
        if connector.transaction is None:
            await self.set_status(connector.evse_id, self.idle_status(connector))

    def reserve(self, connector: Connector | None, reservation: Reservation) -> str:
        """ReserveNow on this connector (None: none matched): the status both versions answer.
        A reservation with the same id elsewhere is replaced, as both versions require."""
        self.cancel_reservation(reservation.id)
        if connector is None:
            return "Rejected"
        if connector.faulted:
            return "Faulted"
        if not connector.operative:
            return "Unavailable"
        if connector.transaction is not None or connector.reservation is not None:
            return "Occupied"
        connector.reservation = reservation
        self.spawn(self.refresh_status(connector))
        self.spawn(self.expire_reservation_later(connector, reservation))
        return "Accepted"

    def cancel_reservation(self, reservation_id: int) -> bool:
        for connector in self.connectors.values():
            if connector.reservation is not None and connector.reservation.id == reservation_id:
                connector.reservation = None
                self.spawn(self.refresh_status(connector))
                return True
        return False

    def update_local_list(
        self, version: int, update_type: str, entries: list[tuple[str, str | None]]
    ) -> str:
        """SendLocalList for both versions: entries are (token, status or None to remove)."""
        if update_type == "Differential" and version <= self.local_list_version:
            return "VersionMismatch"
        if update_type == "Full":
            self.local_list.clear()
        for token, status in entries:
            if status is None:
                self.local_list.pop(token, None)
            else:
                self.local_list[token] = status
        self.local_list_version = version
        return "Accepted"

    async def expire_reservation_later(
        self, connector: Connector, reservation: Reservation
    ) -> None:
        delay = (reservation.expires_at - self.now()).total_seconds()
        await asyncio.sleep(max(delay, 0))
        if connector.reservation is reservation:
            connector.reservation = None
            await self.protocol.reservation_ended(reservation, "Expired")
            await self.refresh_status(connector)

    # --- transactions ---------------------------------------------------------------------------

    async def authorize(self, id_token: str) -> str:
        """Ask the CSMS; offline, trust the local list or accept (as stations do offline)."""
        if not self.online.is_set():
            return self.local_list.get(id_token, "Accepted")
        answer = await self.call("Authorize", self.protocol.authorize_payload(id_token))
        if answer is None:
            return "Invalid"
        return self.protocol.authorization_status(answer)

    async def start_transaction(
        self,
        evse_id: int,
        id_token: str,
        *,
        authorize: bool = True,
        remote_start_id: int | None = None,
    ) -> Transaction | None:
        connector = self.connectors.get(evse_id)
        if connector is None or not connector.free:
            return None
        reservation = connector.reservation
        if reservation is not None and reservation.expires_at > self.now():
            if reservation.id_token != id_token:
                logger.info("%s: EVSE %d is reserved for another token", self.identity, evse_id)
                return None
        else:
            reservation = None
        if authorize and await self.authorize(id_token) != "Accepted":
            logger.info("%s: %s not authorized", self.identity, id_token)
            return None
        await self.set_status(evse_id, "Preparing")
        tx = Transaction(
            local_id=uuid.uuid4().hex[:20],
            evse_id=evse_id,
            id_token=id_token,
            meter_start_wh=connector.meter_wh,
            started_at=self.now(),
            remote_start_id=remote_start_id,
            reservation_id=reservation.id if reservation else None,
        )
        self.advance_meter(connector)  # the meter counts from now, not from the last session's end
        connector.transaction = tx
        connector.reservation = None
        self.protocol.enqueue_start(tx)
        await self.set_status(evse_id, "Charging")
        tx.meter_task = self.spawn(self._meter(connector, tx))
        return tx

    async def stop_transaction(self, evse_id: int, reason: str = "Local") -> bool:
        connector = self.connectors.get(evse_id)
        tx = connector.transaction if connector else None
        if tx is None:
            return False
        if tx.meter_task is not None and tx.meter_task is not asyncio.current_task():
            tx.meter_task.cancel()
        self.advance_meter(connector)  # the energy since the last sample counts too
        connector.transaction = None
        self.protocol.enqueue_stop(tx, connector.meter_wh, reason)
        await self.set_status(evse_id, "Finishing")
        await self.refresh_status(connector)
        if self.pending_reset and not any(c.transaction for c in self.connectors.values()):
            self.pending_reset = None  # a Reset waited for the station to be idle
            self.spawn(self.protocol.reboot())
        return True

    def find_transaction(self, transaction_id: int | str) -> Transaction | None:
        for connector in self.connectors.values():
            tx = connector.transaction
            if tx is not None and str(tx.csms_id) == str(transaction_id):
                return tx
        return None

    def meter_interval(self) -> float:
        return self.options.meter_interval or self.device.integer("MeterValueSampleInterval") or 60

    def power_w(self, connector: Connector) -> float:
        limit = connector.limit_w
        return self.options.power_w if limit is None else min(self.options.power_w, limit)

    def advance_meter(self, connector: Connector) -> None:
        """Add the energy delivered since the last advance, at the (possibly limited) power."""
        now = asyncio.get_running_loop().time()
        if connector.transaction is not None and connector.metered_at is not None:
            connector.meter_wh += self.power_w(connector) * (now - connector.metered_at) / 3600
        connector.metered_at = now

    async def _meter(self, connector: Connector, tx: Transaction) -> None:
        """One sample batch per interval while the transaction runs."""
        self.advance_meter(connector)
        while connector.transaction is tx:
            await asyncio.sleep(self.meter_interval())
            if connector.transaction is tx:
                self.advance_meter(connector)
                self.protocol.enqueue_meter_values(tx, connector)

    async def session(self, evse_id: int, id_token: str, seconds: float) -> bool:
        """A driver: plug in, authorize, charge for `seconds`, stop, unplug."""
        tx = await self.start_transaction(evse_id, id_token)
        if tx is None:
            return False
        await asyncio.sleep(seconds)
        if self.connectors[evse_id].transaction is tx:
            await self.stop_transaction(evse_id, "EVDisconnected")
        return True


def _describe(error: BaseException) -> str:
    if isinstance(error, InvalidStatus):
        return f"HTTP {error.response.status_code}"
    return str(error) or type(error).__name__
