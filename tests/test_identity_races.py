"""Identity and sessions under pressure (issue 8, item 3).

1. The second-connection rule under races: two sockets authenticating for one identity at the same
   moment, one on each of two real worker processes sharing the database and a Redis channel layer,
   leave exactly one live socket: the others are closed with 4000, the row names the survivor, and a
   REST command reaches it. A wrong password racing a live socket never displaces it.
2. A flood of bad handshakes (wrong passwords, no credentials, unknown identities, garbage
   subprotocols, invalid identities; from many identities and addresses) against a real server does
   not starve the live stations, and the login throttle answers 429 without database work after
   OCPP_LOGIN_FAILURE_LIMIT failures per identity and per address, while the right key is still
   admitted (issue 13).
3. A station's messages cannot touch another station's transactions, reservations or connectors
   (in process, as tests/test_messages.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import timedelta

import pytest
import websockets
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from websockets.exceptions import InvalidStatus

from reservations.models import Reservation
from stations import throttle
from stations.models import (
    Connector,
    MeterSample,
    Station,
    StationEvent,
    Transaction,
    TransactionEvent,
)
from stations.passwords import make_station_password
from tests.conftest import require_service
from tests.ocpp_client import (
    OcppTestClient,
    basic_auth,
    connect_ws,
    status_payload,
    ws_subprotocols,
)
from tests.servers import AsgiServer

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "race-station-key-0001"
WRONG = "not-the-key-000000001"
# Identities carry the pid: two runs of this file (SQLite and PostgreSQL) may share Redis.
RUN = f"{os.getpid() % 100000}"
REDIS_URL = "redis://127.0.0.1:6379/9"
T0 = "2026-01-18T12:00:00Z"


# --- a station over a real WebSocket ----------------------------------------------------------------


def basic(identity: str, password: str) -> str:
    return basic_auth(identity, password).decode()


class Wire:
    """A station on a real socket: its own CALLs, and `{"status": "Accepted"}` to the CSMS's."""

    def __init__(self, ws: websockets.ClientConnection, name: str = ""):
        self.ws = ws
        self.name = name
        self.pending: dict[str, asyncio.Future] = {}
        self.received: list[str] = []  # actions of the CALLs the CSMS sent here
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls, url: str, identity: str, version: str, password: str | None = PASSWORD, **kwargs
    ) -> Wire:
        ws = await connect_ws(url, identity, version, password=password, open_timeout=20, **kwargs)
        return cls(ws, url)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in self.ws:
                frame = json.loads(text)
                if frame[0] == 2:
                    self.received.append(frame[2])
                    await self.ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                elif frame[1] in self.pending:
                    self.pending.pop(frame[1]).set_result(frame)
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the socket closed"))

    async def call(self, action: str, payload: dict, timeout: float = 15) -> list:
        unique_id = uuid.uuid4().hex[:20]
        future = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = future
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        return await asyncio.wait_for(future, timeout)

    async def heartbeat(self) -> None:
        frame = await self.call("Heartbeat", {})
        assert frame[0] == 3 and "currentTime" in frame[2], frame

    @property
    def is_open(self) -> bool:
        return self.ws.close_code is None and not self.reader.done()

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


def refusal_status(error: object) -> int:
    assert isinstance(error, InvalidStatus), repr(error)
    return error.response.status_code


# --- the database, from the test process ------------------------------------------------------------


@database_sync_to_async
def register(identities: list[str], password: str | None = PASSWORD) -> None:
    key = make_station_password(password) if password else ""
    Station.objects.bulk_create(
        Station(
            id=identity,
            password_hash=key,
            registration_status="Accepted",
            boot_status="Accepted",  # booted before: Heartbeats are answered at once
        )
        for identity in identities
    )


@database_sync_to_async
def operator_token() -> str:
    user = get_user_model().objects.create_user(f"operator{RUN}", is_staff=True)
    return Token.objects.create(user=user).key


@database_sync_to_async
def station_row(identity: str) -> Station:
    return Station.objects.get(pk=identity)


def rest_command(base: str, token: str, identity: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}/api/stations/{identity}/commands/ClearCache/",
        method="POST",
        data=b"{}",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=40) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- 1. the second-connection rule under races ------------------------------------------------------


@pytest.fixture(scope="module")
def race_workers(django_db_setup, django_db_blocker):
    """daphne and uvicorn, sharing the test database and Redis. The login limit is out of the way
    here (the flood test below exercises it): every wrong password reaches station_admit."""
    require_service("Redis", "127.0.0.1", 6379)
    env = {"REDIS_URL": REDIS_URL, "OCPP_LOGIN_FAILURE_LIMIT": "1000000"}
    workers: list[AsgiServer] = []
    with django_db_blocker.unblock():
        try:
            workers.append(AsgiServer("daphne", env).start())
            workers.append(AsgiServer("uvicorn", env).start())
        except BaseException:
            for worker in workers:
                worker.stop()
            raise
    yield workers
    for worker in workers:
        worker.stop()
    for worker in workers:
        assert "Exception inside application" not in worker.output(), worker.output()[-3000:]


async def closed_but_one(sockets: list[Wire], timeout: float = 20) -> Wire:
    """Wait until all sockets but one have been closed by the server; return the one left."""
    waits = {asyncio.ensure_future(s.ws.wait_closed()): s for s in sockets}
    deadline = time.monotonic() + timeout
    done: set = set()
    try:
        while len(done) < len(sockets) - 1:
            left = deadline - time.monotonic()
            assert left > 0, (
                f"{len(done)} of {len(sockets)} sockets closed; expected all but one; open on "
                f"{[s.name for s in sockets if s.is_open]}, all on {[s.name for s in sockets]}"
            )
            finished, _ = await asyncio.wait(
                set(waits) - done, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            done |= finished
    finally:
        for wait in waits:
            wait.cancel()
    survivors = [s for s in sockets if s.is_open]
    closed = [s for s in sockets if not s.is_open]
    assert len(survivors) == 1, [s.ws.close_code for s in sockets]
    assert [s.ws.close_code for s in closed] == [4000] * len(closed)
    return survivors[0]


async def assert_only_live(
    survivor: Wire, identity: str, sessions: int, token: str, rest: AsgiServer
) -> None:
    """The survivor answers, the row names it, and a command sent by the row reaches it."""
    await survivor.heartbeat()
    row = await station_row(identity)
    assert row.connected and row.session == sessions and row.channel_name.startswith("specific.")
    code, body = await asyncio.to_thread(rest_command, rest.http_url, token, identity)
    assert (code, body) == (200, {"status": "Accepted"}), (code, body)
    assert survivor.received == ["ClearCache"]
    await survivor.heartbeat()
    assert survivor.is_open


async def race_once(
    workers: list[AsgiServer], token: str, identity: str, rng: random.Random
) -> tuple[int, int]:
    """One identity: maybe an incumbent socket, then two authenticated handshakes at once, one on
    each worker. Returns (sockets admitted, index of the worker holding the survivor)."""
    version = rng.choice(["1.6", "2.0.1"])
    sockets: list[Wire] = []
    if rng.random() < 0.4:  # a live incumbent on either worker
        sockets.append(await Wire.open(rng.choice(workers).url, identity, version))
        await sockets[0].heartbeat()
    first, second = rng.sample(workers, 2)
    delay = rng.choice([0, 0, 0, 0.001, 0.002, 0.005, 0.01, 0.02])

    async def later() -> Wire:
        await asyncio.sleep(delay)  # the race's offset: part of the experiment, not a wait
        return await Wire.open(second.url, identity, version)

    sockets += await asyncio.gather(Wire.open(first.url, identity, version), later())
    survivor = await closed_but_one(sockets)
    assert all(not s.received for s in sockets if s is not survivor)
    await assert_only_live(survivor, identity, len(sockets), token, rng.choice(workers))
    await survivor.close()
    return len(sockets), workers.index(next(w for w in workers if w.url == survivor.name))


@pytest.mark.live
async def test_two_sockets_authenticating_at_once_on_two_workers_leave_exactly_one(race_workers):
    token = await operator_token()
    rng = random.Random(8_3)
    batches, per_batch = 6, 5
    identities = [f"RACE{RUN}_{b}_{i}" for b in range(batches) for i in range(per_batch)]
    await register(identities)
    outcomes: list[tuple[int, int]] = []
    for b in range(batches):  # per batch, five identities race at once
        batch = identities[b * per_batch : (b + 1) * per_batch]
        outcomes += await asyncio.gather(*(race_once(race_workers, token, i, rng) for i in batch))
    replaced = StationEvent.objects.filter(station_id__in=identities, type="ConnectionReplaced")
    # Every admission after the first of an identity replaced a live socket.
    assert await replaced.acount() == sum(n - 1 for n, _ in outcomes)
    wins = Counter(w for _, w in outcomes)
    print(
        f"\nrace: {len(outcomes)} identities, {sum(n for n, _ in outcomes)} sockets admitted, "
        f"exactly one live each; survivors on daphne {wins[0]}, uvicorn {wins[1]}"
    )


@pytest.mark.live
async def test_a_wrong_password_racing_a_live_socket_never_displaces_it(race_workers):
    token = await operator_token()
    daphne, uvicorn = race_workers
    rounds = 10
    identities = [f"WRONG{RUN}_{i}" for i in range(rounds)]
    await register(identities)

    async def round_(i: int, identity: str) -> None:
        version = "1.6" if i % 2 else "2.0.1"
        home, away = (daphne, uvicorn) if i % 2 else (uvicorn, daphne)
        live = await Wire.open(home.url, identity, version)
        await live.heartbeat()
        results = await asyncio.gather(
            Wire.open(away.url, identity, version, WRONG),
            Wire.open(home.url, identity, version, WRONG),
            Wire.open(away.url, identity, version, password=None),
            Wire.open(home.url, identity, version, password=None),
            live.heartbeat(),
            return_exceptions=True,
        )
        assert results[4] is None, results[4]
        # daphne cannot send its own status (403); uvicorn says 401.
        assert sorted(refusal_status(e) for e in results[:4]) == [401, 401, 403, 403]
        await assert_only_live(live, identity, 1, token, away)
        await live.close()

    for start in range(0, rounds, 5):
        await asyncio.gather(*(round_(i, identities[i]) for i in range(start, start + 5)))
    refused = StationEvent.objects.filter(station_id__in=identities, type="InvalidCredentials")
    assert await refused.acount() == 4 * rounds
    assert not await StationEvent.objects.filter(type="ConnectionReplaced").aexists()


@pytest.mark.live
async def test_the_right_password_wins_a_race_with_wrong_ones_and_replaces_the_live_socket(
    race_workers,
):
    token = await operator_token()
    rounds = 10
    identities = [f"MIXED{RUN}_{i}" for i in range(rounds)]
    await register(identities)
    rng = random.Random(8_3_2)

    async def round_(identity: str) -> None:
        version = rng.choice(["1.6", "2.0.1"])
        incumbent = await Wire.open(rng.choice(race_workers).url, identity, version)
        await incumbent.heartbeat()
        right, wrong = rng.sample(race_workers, 2)
        results = await asyncio.gather(
            Wire.open(wrong.url, identity, version, WRONG),
            Wire.open(right.url, identity, version),
            Wire.open(right.url, identity, version, WRONG),
            return_exceptions=True,
        )
        newcomer = results[1]
        assert isinstance(newcomer, Wire), newcomer
        assert all(isinstance(r, InvalidStatus) for r in (results[0], results[2])), results
        survivor = await closed_but_one([incumbent, newcomer])
        assert survivor is newcomer
        await assert_only_live(survivor, identity, 2, token, wrong)
        await survivor.close()

    for start in range(0, rounds, 5):
        await asyncio.gather(*(round_(i) for i in identities[start : start + 5]))


# --- 2. a flood of handshakes does not starve live stations -----------------------------------------

LIMIT = 5
BURST = 30  # wrong passwords for one identity at the same instant
LANES = 10  # identities (and addresses) walked one attempt after another past the limit


@pytest.fixture
def flood_server(transactional_db):
    require_service("Redis", "127.0.0.1", 6379)
    env = {
        "REDIS_URL": REDIS_URL,
        "OCPP_LOGIN_FAILURE_LIMIT": str(LIMIT),
        "OCPP_LOGIN_FAILURE_WINDOW": "300",
        "OCPP_MESSAGE_LOG": "0",
    }
    server = AsgiServer("uvicorn", env).start()
    yield server
    server.stop()
    assert "Exception inside application" not in server.output(), server.output()[-3000:]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def attempt(
    url: str, path: str, subprotocols: list[str], auth: str | None, address: str
) -> int | str:
    """One handshake from a loopback address of its own; the HTTP status it got."""
    try:
        ws = await websockets.connect(
            f"{url}{path}",
            subprotocols=ws_subprotocols(subprotocols),
            additional_headers={"Authorization": auth} if auth else {},
            open_timeout=60,
            local_addr=(address, 0),
        )
    except InvalidStatus as error:
        return error.response.status_code
    except Exception as error:  # counted and reported
        return type(error).__name__
    await ws.close()
    return 101


def flood_plan() -> tuple[list[list[tuple]], list[str]]:
    """Lanes of attempts: a lane runs its attempts one after another, lanes run at once (first come
    first served: the burst is first, so that it really is one). Returns (lanes, stations to
    register with PASSWORD)."""
    lanes: list[list[tuple]] = []
    keyed: list[str] = []
    # A burst: wrong passwords for one identity at the same instant, each from its own address.
    keyed.append(f"FB{RUN}")
    for k in range(BURST):
        auth = basic(f"FB{RUN}", WRONG)
        lanes.append([("burst", f"/ocpp/FB{RUN}", ["ocpp1.6"], auth, f"127.60.0.{k + 1}")])
    # Per identity: 12 wrong passwords then the right one, each from a new address.
    for k in range(LANES):
        identity = f"FI{RUN}_{k}"
        keyed.append(identity)
        lane = [
            (
                "per-identity",
                f"/ocpp/{identity}",
                ["ocpp1.6"],
                basic(identity, WRONG),
                f"127.10.{k}.{j}",
            )
            for j in range(1, 13)
        ]
        lane.append(
            (
                "per-identity",
                f"/ocpp/{identity}",
                ["ocpp1.6"],
                basic(identity, PASSWORD),
                f"127.10.{k}.200",
            )
        )
        lanes.append(lane)
    # Per address: 12 wrong passwords for 12 identities, then a right one for a 13th.
    for k in range(LANES):
        address = f"127.20.0.{k + 1}"
        lane = []
        for j in range(13):
            identity = f"FA{RUN}_{k}_{j}"
            keyed.append(identity)
            auth = basic(identity, WRONG if j < 12 else PASSWORD)
            lane.append(("per-address", f"/ocpp/2.0.1/{identity}", ["ocpp2.0.1"], auth, address))
        lanes.append(lane)
    # No credentials at all for a station with a password: one attempt per identity.
    for k in range(40):
        identity = f"FN{RUN}_{k}"
        keyed.append(identity)
        lanes.append(
            [("no-credentials", f"/ocpp/{identity}", ["ocpp2.0.1"], None, f"127.30.0.{k + 1}")]
        )
    # Unknown identities: 10 addresses, 10 different unknown identities each.
    for k in range(10):
        lanes.append(
            [
                (
                    "unknown",
                    f"/ocpp/UNK{RUN}_{k}_{j}",
                    ["ocpp1.6"],
                    basic("x", WRONG),
                    f"127.40.0.{k + 1}",
                )
                for j in range(10)
            ]
        )
    # Garbage: no subprotocol we speak, a versioned URL with the other version, invalid identities.
    for k in range(100):
        address = f"127.50.0.{k + 1}"
        identity = f"FI{RUN}_{k % LANES}"
        garbage = [
            (f"/ocpp/{identity}", ["ocpp0.1", "garbage"]),
            (f"/ocpp/1.6/{identity}", ["ocpp2.0.1"]),
            (f"/ocpp/{'x' * 49}", ["ocpp1.6"]),
            ("/ocpp/bad%21identity", ["ocpp2.0.1"]),
            (f"/ocpp/{identity}", []),
        ][k % 5]
        lanes.append([("garbage", garbage[0], garbage[1], basic(identity, WRONG), address)])
    return lanes, keyed


async def run_flood(url: str, lanes: list[list[tuple]]) -> list[tuple[str, int | str]]:
    gate = asyncio.Semaphore(250)
    results: list[tuple[str, int | str]] = []

    async def lane(steps: list[tuple]) -> None:
        for kind, path, subprotocols, auth, address in steps:
            async with gate:
                results.append((kind, await attempt(url, path, subprotocols, auth, address)))

    await asyncio.gather(*(lane(steps) for steps in lanes))
    return results


@pytest.mark.live
async def test_a_handshake_flood_does_not_starve_live_stations(flood_server):
    lanes, keyed = flood_plan()
    live_ids = [f"LIVE{RUN}_{k}" for k in range(4)]
    await register([*keyed, *live_ids, f"LATE{RUN}"])
    lives = [await Wire.open(flood_server.url, i, "2.0.1") for i in live_ids]

    phase = "before"
    latencies: dict[str, list[float]] = {"before": [], "during": []}
    status_latencies: dict[str, list[float]] = {"before": [], "during": []}
    baseline_done = asyncio.Event()
    stop = asyncio.Event()

    async def keep_beating(wire: Wire) -> None:
        beat = 0
        while not stop.is_set():
            began = time.perf_counter()
            await wire.heartbeat()  # raises if it goes unanswered for 15 s
            latencies[phase].append(time.perf_counter() - began)
            beat += 1
            if beat % 5 == 0:  # also a message that needs the database
                began = time.perf_counter()
                frame = await wire.call("StatusNotification", status_payload("2.0.1", 1))
                assert frame[0] == 3, frame
                status_latencies[phase].append(time.perf_counter() - began)
            if len(latencies["before"]) >= 100:
                baseline_done.set()
            await asyncio.sleep(0.02)  # a station's pace, not a wait for an event

    beaters = [asyncio.create_task(keep_beating(w)) for w in lives]
    await asyncio.wait_for(baseline_done.wait(), 30)
    rss_before = rss_mb(flood_server.process.pid)
    phase = "during"
    began = time.monotonic()
    # The flood runs on its own event loop in another thread, so that its client-side work does not
    # sit in the live stations' event loop and inflate their measured latency.
    results = await asyncio.to_thread(asyncio.run, run_flood(flood_server.url, lanes))
    flood_seconds = time.monotonic() - began
    rss_after = rss_mb(flood_server.process.pid)
    stop.set()
    await asyncio.gather(*beaters)  # any unanswered Heartbeat fails here

    by_kind: dict[str, Counter] = {}
    for kind, status in results:
        by_kind.setdefault(kind, Counter())[status] += 1
    totals = Counter(status for _, status in results)
    report = {
        "flood": len(results),
        "seconds": round(flood_seconds, 1),
        "statuses": dict(totals),
        "by_kind": {kind: dict(counter) for kind, counter in by_kind.items()},
        "heartbeat_ms": {
            p: {
                "n": len(v),
                "median": round(statistics.median(v) * 1000, 1),
                "p99": round(percentile(v, 0.99) * 1000, 1),
                "max": round(max(v) * 1000, 1),
            }
            for p, v in latencies.items()
        },
        "status_notification_ms": {
            p: {
                "n": len(v),
                "median": round(statistics.median(v) * 1000, 1),
                "max": round(max(v) * 1000, 1),
            }
            for p, v in status_latencies.items()
        },
        "server_rss_mb": (round(rss_before), round(rss_after)),
    }
    print("\nflood:", json.dumps(report))

    # The live stations: still connected, every Heartbeat answered, latency bounded.
    assert all(w.is_open for w in lives)
    assert len(latencies["during"]) >= 20
    assert percentile(latencies["during"], 0.99) < 3.0, report
    for wire in lives:
        await wire.heartbeat()

    # Only the right keys were admitted, nothing failed at the transport.
    assert set(totals) <= {101, 400, 401, 404, 429}, report
    # Per identity and per address: exactly LIMIT failures reach the database, then 429 from
    # memory; the right key that ends each lane is admitted all the same.
    for kind in ("per-identity", "per-address"):
        assert by_kind[kind] == {401: LANES * LIMIT, 429: LANES * (12 - LIMIT), 101: LANES}, report
    assert by_kind["no-credentials"] == {401: 40}
    assert by_kind["garbage"] == {400: 100}
    # Unknown identities count as failures of their address: 404, then 429.
    assert sum(by_kind["unknown"].values()) == 100 and set(by_kind["unknown"]) <= {404, 429}
    # A burst for one identity: attempts under way count against the limit, so exactly LIMIT
    # reach the database and the rest are refused before it.
    assert by_kind["burst"] == {401: LIMIT, 429: BURST - LIMIT}, report
    # Throttled attempts cost the database nothing: LIMIT refusals per identity are recorded in
    # full, the others in aggregate (LoginsThrottled), so failed_logins ends up counting all 12.
    checked = StationEvent.objects.filter(
        station_id__startswith=f"FI{RUN}_", type="InvalidCredentials"
    )
    assert await checked.acount() == LANES * LIMIT
    failed = Station.objects.filter(pk__startswith=f"FI{RUN}_").values_list(
        "failed_logins", flat=True
    )
    deadline = time.monotonic() + 10
    while {n async for n in failed} != {12}:  # the server's flusher writes the aggregate
        assert time.monotonic() < deadline, [n async for n in failed]
        await asyncio.sleep(0.05)

    assert rss_after - rss_before < 150, report
    # The live stations' own address was never in the flood: a station may still join from it.
    newcomer = await Wire.open(flood_server.url, f"LATE{RUN}", "1.6")
    await newcomer.heartbeat()
    await newcomer.close()
    for wire in lives:
        await wire.close()


# --- 3. a station's messages cannot touch another station's rows ------------------------------------

PRESENCE = {"last_seen_at", "last_heartbeat_at", "connected", "disconnected_at", "channel_name"}


@database_sync_to_async
def snapshot(identities: list[str]) -> dict[str, list]:
    """Everything of these stations an intruder might change, as plain values."""
    stations = [
        {k: v for k, v in row.items() if k not in PRESENCE}
        for row in Station.objects.filter(pk__in=identities).order_by("pk").values()
    ]
    return {
        "stations": stations,
        "connectors": list(
            Connector.objects.filter(station_id__in=identities).order_by("pk").values()
        ),
        "transactions": list(
            Transaction.objects.filter(station_id__in=identities).order_by("pk").values()
        ),
        "events": list(
            TransactionEvent.objects.filter(transaction__station_id__in=identities)
            .order_by("pk")
            .values()
        ),
        "samples": list(
            MeterSample.objects.filter(station_id__in=identities).order_by("pk").values()
        ),
        "reservations": list(
            Reservation.objects.filter(station_id__in=identities).order_by("pk").values()
        ),
    }


async def anomalies(identity: str) -> Counter:
    return Counter(
        [e.type async for e in StationEvent.objects.filter(station_id=identity, kind="anomaly")]
    )


def energy_16(wh: int) -> list[dict]:
    return [
        {
            "timestamp": T0,
            "sampledValue": [
                {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
            ],
        }
    ]


def energy_201(kwh: float) -> list[dict]:
    return [
        {
            "timestamp": T0,
            "sampledValue": [
                {
                    "value": kwh,
                    "measurand": "Energy.Active.Import.Register",
                    "unitOfMeasure": {"unit": "kWh"},
                }
            ],
        }
    ]


def tx_event(event_type: str, tx_id: str, seq_no: int, **extra) -> dict:
    return {
        "eventType": event_type,
        "timestamp": T0,
        "triggerReason": "Authorized" if event_type == "Started" else "MeterValuePeriodic",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": tx_id},
        **extra,
    }


async def owners_with_data(make_station) -> dict:
    """OWN16 (1.6) and OWN201 (2.0.1), each with a connector, an active transaction with samples
    and an accepted reservation."""
    rows = {}
    for identity, version in (("OWN16", "1.6"), ("OWN201", "2.0.1")):
        station = await make_station(identity)
        client, connected, _ = await OcppTestClient.open(identity, version)
        assert connected
        await client.boot()
        occupied = "Charging" if version == "1.6" else "Occupied"
        await client.result("StatusNotification", status_payload(version, 1, occupied))
        if version == "1.6":
            start = {"connectorId": 1, "idTag": "TAG1", "meterStart": 100, "timestamp": T0}
            tx_id = (await client.result("StartTransaction", start))["transactionId"]
            await client.result(
                "MeterValues",
                {"connectorId": 1, "transactionId": tx_id, "meterValue": energy_16(600)},
            )
            rows["tx16"] = tx_id
        else:
            started = tx_event("Started", "TX-O", 0, evse={"id": 1, "connectorId": 1})
            await client.result("TransactionEvent", {**started, "meterValue": energy_201(1.0)})
            rows["tx201"] = (await Transaction.objects.aget(station_id=identity, ocpp_id="TX-O")).pk
        reservation = await Reservation.objects.acreate(
            station=station,
            evse_id=2,
            id_token="TAG2",
            expires_at=timezone.now() + timedelta(hours=1),
            status="accepted",
        )
        rows[f"reservation{version}"] = reservation.pk
        await client.close()
    return rows


async def test_a_16_station_cannot_touch_another_stations_transactions_reservations_connectors(
    make_station,
):
    owned = await owners_with_data(make_station)
    await make_station("INTRUDER")
    before = await snapshot(["OWN16", "OWN201"])

    intruder, _, _ = await OcppTestClient.open("INTRUDER", "1.6")
    await intruder.boot()
    for tx_id in (owned["tx16"], owned["tx201"]):  # a 1.6 id and a 2.0.1 row's primary key
        meter = {"connectorId": 1, "transactionId": tx_id, "meterValue": energy_16(99999)}
        assert await intruder.result("MeterValues", meter) == {}
        stop = {"transactionId": tx_id, "meterStop": 99999, "timestamp": T0}
        assert "idTagInfo" not in await intruder.result("StopTransaction", stop)
    for reservation_id in (owned["reservation1.6"], owned["reservation2.0.1"]):
        start = {
            "connectorId": 2,
            "idTag": "TAG2",
            "meterStart": 0,
            "timestamp": f"2026-01-18T12:0{reservation_id % 10}:00Z",
            "reservationId": reservation_id,
        }
        own_tx = (await intruder.result("StartTransaction", start))["transactionId"]
        assert own_tx not in (owned["tx16"], owned["tx201"])
    assert await intruder.result("StatusNotification", status_payload("1.6", 1, "Faulted")) == {}
    assert await intruder.result("StatusNotification", status_payload("1.6", 2, "Faulted")) == {}
    await intruder.close()

    assert await snapshot(["OWN16", "OWN201"]) == before
    assert await anomalies("INTRUDER") == {
        "UnknownTransactionMeterValues": 2,
        "UnknownTransactionStop": 2,
        "UnknownReservationUse": 2,
    }
    assert await Connector.objects.filter(station_id="INTRUDER", status="Faulted").acount() == 2
    # Its own transactions were stored, but linked to no other station's reservation.
    linked = Transaction.objects.filter(station_id="INTRUDER").values_list("reservation_id")
    assert [r async for r in linked] == [(None,), (None,)]


async def test_a_201_station_cannot_touch_another_stations_transactions_reservations_connectors(
    make_station,
):
    owned = await owners_with_data(make_station)
    await make_station("INTRUDER")
    before = await snapshot(["OWN16", "OWN201"])

    intruder, _, _ = await OcppTestClient.open("INTRUDER", "2.0.1")
    await intruder.boot()
    # The owner's 2.0.1 transactionId, and a 1.6 row's primary key as a 2.0.1 id.
    for seq_no, tx_id in enumerate(("TX-O", str(owned["tx16"]))):
        updated = tx_event("Updated", tx_id, 10 + seq_no, meterValue=energy_201(99.0))
        assert await intruder.result("TransactionEvent", updated) == {}
        ended = tx_event("Ended", tx_id, 20 + seq_no, evse={"id": 1, "connectorId": 1})
        assert await intruder.result("TransactionEvent", ended) == {}
    for n, reservation_id in enumerate((owned["reservation1.6"], owned["reservation2.0.1"])):
        started = tx_event("Started", f"TX-I{n}", 0, evse={"id": 2}, reservationId=reservation_id)
        assert await intruder.result("TransactionEvent", started) == {}
        update = {"reservationId": reservation_id, "reservationUpdateStatus": "Removed"}
        assert await intruder.result("ReservationStatusUpdate", update) == {}
    for evse in (1, 2):
        assert (
            await intruder.result("StatusNotification", status_payload("2.0.1", evse, "Faulted"))
            == {}
        )
    await intruder.close()

    assert await snapshot(["OWN16", "OWN201"]) == before
    # The intruder's ids are its own: its own transactions, each flagged as begun without a start.
    assert await anomalies("INTRUDER") == {
        "TransactionWithoutStart": 2,
        "UnknownReservationUse": 2,
        "UnknownReservationUpdate": 2,
    }
    assert await Transaction.objects.filter(station_id="INTRUDER").acount() == 4
    assert not await Transaction.objects.filter(
        station_id="INTRUDER", reservation_id__isnull=False
    ).aexists()
    assert await Connector.objects.filter(station_id="INTRUDER", status="Faulted").acount() == 2


async def test_a_stations_own_reservation_is_no_anomaly(make_station):
    """The anomaly is for another station's (or no) reservation, not for a late message about the
    station's own reservation that is no longer active."""
    station = await make_station("CP_1")
    reservation = await Reservation.objects.acreate(
        station=station,
        evse_id=1,
        id_token="T",
        expires_at=timezone.now() + timedelta(hours=1),
        status="expired",
    )
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    update = {"reservationId": reservation.pk, "reservationUpdateStatus": "Expired"}
    assert await client.result("ReservationStatusUpdate", update) == {}
    update = {"reservationId": reservation.pk + 1000, "reservationUpdateStatus": "Expired"}
    assert await client.result("ReservationStatusUpdate", update) == {}
    await client.close()
    assert await anomalies("CP_1") == {"UnknownReservationUpdate": 1}


# --- the login throttle under bursts ---------------------------------------------------------------


@override_settings(OCPP_LOGIN_FAILURE_LIMIT=3, OCPP_LOGIN_FAILURE_WINDOW=60)
async def test_a_concurrent_burst_of_wrong_passwords_reaches_the_database_at_most_limit_times(
    make_station,
):
    await make_station("CP_1", password=PASSWORD)
    results = await asyncio.gather(
        *(OcppTestClient.open("CP_1", password=WRONG) for _ in range(20))
    )
    assert not any(connected for _, connected, _ in results)
    checked = StationEvent.objects.filter(station_id="CP_1", type="InvalidCredentials")
    assert await checked.acount() == 3  # the rest were refused in memory, and counted in aggregate
    await database_sync_to_async(throttle.flush_refusals)()
    assert (await Station.objects.aget(pk="CP_1")).failed_logins == 20


@override_settings(OCPP_LOGIN_FAILURE_LIMIT=3, OCPP_LOGIN_FAILURE_WINDOW=60)
async def test_unknown_identities_count_as_failed_logins_per_address(transactional_db):
    for i in range(6):
        _, connected, _ = await OcppTestClient.open(f"NOBODY_{i}", password=WRONG)
        assert not connected
    assert await StationEvent.objects.filter(type="UnknownStation").acount() == 3
