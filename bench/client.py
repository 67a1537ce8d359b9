"""The load client: the cheapest OCPP-J station there is.

Plain `websockets` asyncio connections (no compression, no pings) sending raw OCPP-J frames built
with string formatting; no emulator logic, no schema validation. A station has one CALL in flight at
a time (the OCPP rule); load comes from many stations in parallel, paced by a scheduler at a fixed
aggregate rate. Latency is send -> matching CALLRESULT, with `time.perf_counter`. Any CALL the
server sends a station is answered at once with `{"status": "Accepted"}`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

SUBPROTOCOLS = {"2.0.1": "ocpp2.0.1", "1.6": "ocpp1.6"}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = math.ceil(q / 100 * len(sorted_values))  # nearest rank
    return sorted_values[min(len(sorted_values), max(rank, 1)) - 1]


@dataclass
class Stats:
    """Latencies (seconds) of the answered CALLs of one phase, and what went wrong."""

    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    call_errors: int = 0
    timeouts: int = 0
    closed: int = 0
    missed: int = 0  # scheduled sends dropped: every station still waited for its last answer
    error_codes: Counter = field(default_factory=Counter)
    first_send: float = 0.0
    last_answer: float = 0.0

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return self.call_errors + self.timeouts + self.closed

    @property
    def elapsed(self) -> float:
        return max(self.last_answer - self.first_send, 1e-9)

    def summary(self) -> dict:
        ordered = sorted(self.latencies)
        ms = 1000.0
        return {
            "sent": self.sent,
            "answered": self.answered,
            "msg_per_s": self.answered / self.elapsed if self.answered else 0.0,
            "p50_ms": percentile(ordered, 50) * ms,
            "p95_ms": percentile(ordered, 95) * ms,
            "p99_ms": percentile(ordered, 99) * ms,
            "max_ms": (ordered[-1] if ordered else float("nan")) * ms,
            "errors": self.errors,
            "call_errors": self.call_errors,
            "timeouts": self.timeouts,
            "closed": self.closed,
            "missed_sends": self.missed,
            "error_codes": dict(self.error_codes),
        }


class Station:
    """One WebSocket; a reader task routes answers to the pending CALL and answers server CALLs."""

    def __init__(self, ident: str, ws: ClientConnection):
        self.ident = ident
        self.ws = ws
        self.pending: dict[str, asyncio.Future] = {}
        self.seq = 0
        self.calls_received = 0
        self.state: dict = {}  # per-scenario data (transaction id, meter register, ...)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = orjson.loads(raw)
                if message[0] == 2:
                    self.calls_received += 1
                    await self.ws.send(
                        orjson.dumps([3, message[1], {"status": "Accepted"}]).decode()
                    )
                    continue
                future = self.pending.pop(message[1], None)
                if future is not None and not future.done():
                    future.set_result(message)
        except (ConnectionClosed, OSError):
            pass
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))
            self.pending.clear()

    async def call(self, action: str, payload: str, stats: Stats, timeout: float) -> list | None:
        """Send one CALL (payload: JSON text) and wait for its answer; None on any failure."""
        self.seq += 1
        message_id = str(self.seq)
        future = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        frame = f'[2,"{message_id}","{action}",{payload}]'
        started = time.perf_counter()
        if not stats.first_send:
            stats.first_send = started
        stats.sent += 1
        try:
            await self.ws.send(frame)
            message = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self.pending.pop(message_id, None)
            stats.timeouts += 1
            return None
        except (ConnectionError, ConnectionClosed, OSError):
            self.pending.pop(message_id, None)
            stats.closed += 1
            return None
        answered = time.perf_counter()
        stats.last_answer = max(stats.last_answer, answered)
        if message[0] == 3:
            stats.latencies.append(answered - started)
            return message
        stats.call_errors += 1
        stats.error_codes[message[2] if len(message) > 2 else "?"] += 1
        return None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self.reader.cancel()


async def open_station(
    url: str,
    ident: str,
    subprotocol: str | None,
    open_timeout: float = 30.0,
    password: str = "",
) -> Station:
    """Password: Basic authentication as `ident` (OCPP security profile 1)."""
    headers = {}
    if password:
        basic = base64.b64encode(f"{ident}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    ws = await connect(
        url,
        subprotocols=[Subprotocol(subprotocol)] if subprotocol else None,
        additional_headers=headers,
        compression=None,
        ping_interval=None,
        open_timeout=open_timeout,
        close_timeout=2,
        max_size=2**16,
        max_queue=None,
    )
    return Station(ident, ws)


async def open_stations(
    url_of: Callable[[str], str],
    idents: Iterable[str],
    subprotocol: str | None,
    concurrency: int = 100,
) -> tuple[list[Station], int]:
    """Connect stations, `concurrency` handshakes at a time. Returns (stations, failures)."""
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(ident: str) -> Station | None:
        nonlocal failures
        async with gate:
            try:
                return await open_station(url_of(ident), ident, subprotocol)
            except Exception:
                failures += 1
                return None

    stations = await asyncio.gather(*(one(i) for i in idents))
    return [s for s in stations if s is not None], failures


async def close_stations(stations: list[Station]) -> None:
    await asyncio.gather(*(s.close() for s in stations))


# --- OCPP payloads -------------------------------------------------------------------------------

_EPOCH = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def timestamp(seconds: float = 0.0) -> str:
    """An OCPP time: a fixed instant of this run plus `seconds`."""
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def boot_payload(version: str) -> str:
    if version == "1.6":
        return '{"chargePointVendor":"Bench","chargePointModel":"Lean"}'
    return '{"chargingStation":{"model":"Lean","vendorName":"Bench"},"reason":"PowerUp"}'


def status_payload(version: str, connector: int) -> str:
    if version == "1.6":
        return f'{{"connectorId":{connector},"errorCode":"NoError","status":"Available"}}'
    return orjson.dumps(
        {
            "timestamp": timestamp(),
            "connectorStatus": "Available",
            "evseId": connector,
            "connectorId": 1,
        }
    ).decode()


# Ten sampled values, all different in (measurand, phase): the database stores each one.
# The first four are a common MeterValuesSampledData (energy, power, current, voltage).
_SAMPLES = [
    ("Energy.Active.Import.Register", "", "Wh"),
    ("Power.Active.Import", "", "W"),
    ("Current.Import", "L1", "A"),
    ("Voltage", "L1-N", "V"),
    ("Current.Import", "L2", "A"),
    ("Current.Import", "L3", "A"),
    ("Voltage", "L2-N", "V"),
    ("Voltage", "L3-N", "V"),
    ("SoC", "", "Percent"),
    ("Frequency", "", ""),
]
SAMPLES_PER_MESSAGE = len(_SAMPLES)


def sampled_values(
    version: str, energy_wh: int, count: int = SAMPLES_PER_MESSAGE
) -> list[dict[str, Any]]:
    values = []
    for measurand, phase, unit in _SAMPLES[:count]:
        value = energy_wh if measurand.startswith("Energy") else 50
        item: dict[str, Any]
        if version == "1.6":
            item = {"value": str(value), "measurand": measurand}
            if unit:
                item["unit"] = unit
        else:
            item = {"value": value, "measurand": measurand}
            if unit:
                item["unitOfMeasure"] = {"unit": unit}
        if phase:
            item["phase"] = phase
        values.append(item)
    return values


def start_transaction_payload(version: str, station: Station) -> tuple[str, str]:
    if version == "1.6":
        payload = {"connectorId": 1, "idTag": "BENCH", "meterStart": 0, "timestamp": timestamp()}
        return "StartTransaction", orjson.dumps(payload).decode()
    payload = {
        "eventType": "Started",
        "timestamp": timestamp(),
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": f"tx-{station.ident}", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "BENCH", "type": "ISO14443"},
    }
    return "TransactionEvent", orjson.dumps(payload).decode()


def meter_payload(
    version: str, station: Station, offline: bool = False, samples: int = SAMPLES_PER_MESSAGE
) -> tuple[str, str]:
    """The station's next periodic meter reading: a new timestamp, so nothing is a duplicate.
    `offline`: a 2.0.1 event queued while the station was offline (`"offline": true`);
    `samples`: the first so many of the ten sampled values."""
    n = station.state["meter_seq"] = station.state.get("meter_seq", 0) + 1
    values = sampled_values(version, n * 10, samples)
    meter_value = [{"timestamp": timestamp(n), "sampledValue": values}]
    if version == "1.6":
        payload = {
            "connectorId": 1,
            "transactionId": station.state["transaction_id"],
            "meterValue": meter_value,
        }
        return "MeterValues", orjson.dumps(payload).decode()
    payload = {
        "eventType": "Updated",
        "timestamp": timestamp(n),
        "triggerReason": "MeterValuePeriodic",
        "seqNo": n,
        "transactionInfo": {"transactionId": f"tx-{station.ident}"},
        "meterValue": meter_value,
    }
    if offline:
        payload["offline"] = True
    return "TransactionEvent", orjson.dumps(payload).decode()


# --- Pacing --------------------------------------------------------------------------------------


async def paced(
    stations: list[Station],
    job: Callable[[Station], tuple[str, str]],
    rate: float,
    duration: float,
    stats: Stats,
    timeout: float = 10.0,
    total: int | None = None,
) -> None:
    """Send `rate` CALLs per second in total for `duration` seconds, each from an idle station
    (or exactly `total` CALLs at that rate: with as many stations, each one sends once).

    Send times are scheduled (open loop). When every station still waits for its previous answer
    the send is dropped and counted in `stats.missed`: the server is saturated at this rate. The
    phase ends `timeout` seconds after the last send at the latest.
    """
    idle = deque(stations)
    running: set[asyncio.Task] = set()

    async def one(station: Station) -> None:
        action, payload = job(station)
        await station.call(action, payload, stats, timeout)
        if not station.ws.close_code:
            idle.append(station)

    total = int(rate * duration) if total is None else total
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not idle:
            stats.missed += 1
            continue
        task = asyncio.create_task(one(idle.popleft()))
        running.add(task)
        task.add_done_callback(running.discard)
    if running:
        await asyncio.wait(set(running), timeout=timeout + 5)


async def each(
    stations: list[Station],
    job: Callable[[Station], tuple[str, str]],
    stats: Stats,
    timeout: float = 30.0,
) -> list[list | None]:
    """Every station sends one CALL, all at once; their answers in station order."""
    return await asyncio.gather(*(s.call(*job(s), stats, timeout) for s in stations))


# --- HTTP ----------------------------------------------------------------------------------------


class HttpClient:
    """Keep-alive HTTP/1.1 connections, one per thread of a pool; requests run in those threads."""

    def __init__(self, port: int, token: str, threads: int = 32):
        self.port = port
        self.headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Host": "127.0.0.1",
        }
        self.local = threading.local()
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="bench-http")

    def _post(self, path: str, body: bytes) -> tuple[int, float, bytes]:
        started = time.perf_counter()
        for attempt in (1, 2):
            connection = getattr(self.local, "connection", None)
            reused = connection is not None
            if connection is None:
                connection = self.local.connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=60
                )
            try:
                connection.request("POST", path, body=body, headers=self.headers)
                response = connection.getresponse()
                content = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                self.local.connection = None
                # The server closed an idle keep-alive connection (uvicorn: after 5 s): the
                # request never reached it; send it again on a new connection, as HTTP clients do.
                stale = isinstance(
                    exc, BrokenPipeError | ConnectionResetError | http.client.RemoteDisconnected
                )
                if attempt == 1 and reused and stale:
                    continue
                return 0, time.perf_counter() - started, f"{type(exc).__name__}: {exc}".encode()
            return response.status, time.perf_counter() - started, content
        raise AssertionError("unreachable")

    async def post(self, path: str, body: bytes = b"{}") -> tuple[int, float, bytes]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._post, path, body)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
