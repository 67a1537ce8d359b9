"""Nothing lost, nothing doubled: the CSMS killed with SIGKILL dozens of times while stations
charge, and the database taken away for a while, with real parts only.

Emulated stations of both versions charge through a real uvicorn process with short meter
intervals, starting and stopping sessions, their transaction messages in the emulator's outbox
(delivered in order, at least once). The server is killed at random moments (after a random number
of frames it answered), restarted on the same port, killed again; or its database is made
unavailable (PostgreSQL: the link to it is cut; SQLite: another process holds the write lock) and
then restored. Afterwards every station drains its outbox and the database must hold exactly what
the stations metered: every transaction once, with its meter start and stop; every sample once;
energy right.

`pytest -s` prints the figures: kills survived, transactions and samples checked, messages resent,
errors the stations saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from emulator.station import OutboxItem, StationOptions
from emulator.station import Transaction as StationTransaction
from stations.clock import parse_ocpp_time
from stations.models import IdToken, MeterSample, Station, Transaction, TransactionEvent
from tests import servers
from tests.crash_server import CrashableServer
from tests.emulated import TappedStation
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TAG = "CRASH-CARD-1"
ENERGY = "Energy.Active.Import.Register"
TRANSACTIONAL = {"StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent"}
# Two stations of each version, two connectors each: eight sessions at a time.
FLEET = [
    ("CRASH_16_A", "1.6"),
    ("CRASH_16_B", "1.6"),
    ("CRASH_201_A", "2.0.1"),
    ("CRASH_201_B", "2.0.1"),
]
METER_INTERVAL = 0.25
KILLS = 32
KILLS_IN_BATCH = 12
BACKLOG = 100  # before a kill, at most this many messages queued: the final drain stays short
# Servers keep their database connections, as in production: a broken one must be replaced.
SERVER_SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.crash_settings"}
WAIT = 30.0  # upper bound of any single wait: only a broken run gets near it
# A transaction's key: 1.6, the CSMS's id; 2.0.1, the station's. None: a start never answered (1.6)
# or a row without a station id (2.0.1), either reported as a problem.
Key = int | str | None


# --- observing the stations ---------------------------------------------------------------------


class Progress:
    """Wakes the test whenever any station sends or receives a frame, so it waits for what it
    needs (so many frames answered, so many errors) instead of for time to pass."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()

    def poke(self) -> None:
        self.changed.set()

    async def until(
        self, predicate: Callable[[], bool], what: str, diagnostics: Callable[[], str]
    ) -> None:
        try:
            async with asyncio.timeout(WAIT):
                while not predicate():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"no {what} within {WAIT} s\n{diagnostics()}") from None


@dataclass
class Ledger:
    """What one station did: every transaction message it queued (the payload is frozen when first
    sent, so a resend is the same message), how often each went out, what came back, and the
    transactions its driver started and stopped."""

    station: LedgerStation
    version: str
    items: list[OutboxItem] = field(default_factory=list)
    sends: Counter = field(default_factory=Counter)  # (action, payload) -> frames sent
    callerrors: Counter = field(default_factory=Counter)  # error code -> CALLERRORs received
    received: int = 0
    started: list[StationTransaction] = field(default_factory=list)
    stop_wh: dict[str, float] = field(default_factory=dict)  # local id -> register at stop

    def on_frame(self, direction: str, text: str, message_type: int, action: str) -> None:
        if direction == "in":
            self.received += 1
            if message_type == 4:
                self.callerrors[json.loads(text)[2]] += 1
        elif message_type == 2 and action in TRANSACTIONAL:
            self.sends[action, json.dumps(json.loads(text)[3], sort_keys=True)] += 1

    @property
    def resent(self) -> Counter:
        """Transaction messages sent more than once (answer lost or refused), by action."""
        counts: Counter = Counter()
        for (action, _), sent in self.sends.items():
            counts[action] += sent - 1
        return counts

    @property
    def failed_attempts(self) -> int:
        """Transaction messages answered with a CALLERROR or not answered in time."""
        return sum(item.attempts for item in self.items)


class LedgerStation(TappedStation):
    """A station that keeps its ledger, and wakes the test at every frame."""

    def __init__(self, options: StationOptions, *, rng: random.Random, progress: Progress) -> None:
        super().__init__(options, rng=rng)
        self.progress = progress
        self.ledger = Ledger(self, options.protocol)

    def on_queued(self, item: OutboxItem) -> None:
        self.ledger.items.append(item)

    def on_frame(self, direction: str, text: str, message_type: int, action: str) -> None:
        self.ledger.on_frame(direction, text, message_type, action)
        self.progress.poke()


def make_station(
    url: str, identity: str, version: str, seed: int, call_timeout: float, progress: Progress
) -> LedgerStation:
    station = LedgerStation(
        StationOptions(
            identity=identity,
            url=f"{url}/ocpp/",
            protocol=version,
            connectors=2,
            meter_interval=METER_INTERVAL,
            call_timeout=call_timeout,
            retry_unit=0.05,  # reconnect after 50-250 ms; retry a refused message after 50 ms x n
        ),
        rng=random.Random(seed),
        progress=progress,
    )
    settings = station.device.settings
    settings["RetryBackOffWaitMinimum"].value = "1"
    settings["RetryBackOffRandomRange"].value = "1"
    settings["RetryBackOffRepeatTimes"].value = "2"
    settings["TransactionMessageRetryInterval"].value = "1"
    settings["TransactionMessageAttempts"].value = "1000000"  # never give a message up
    return station


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """A driver's own pace (plugged in, charging, walking away), cut short when the test ends."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


async def drive(ledger: Ledger, evse_id: int, rng: random.Random, stop: asyncio.Event) -> None:
    """Back-to-back sessions on one connector until `stop`; the last one is stopped too."""
    station = ledger.station
    while not stop.is_set():
        tx = await station.start_transaction(evse_id, TAG)
        if tx is None:  # the Authorize answer was lost with the server: the driver tries again
            await pause(stop, 0.05)
            continue
        ledger.started.append(tx)
        await pause(stop, rng.uniform(0.3, 1.5))
        assert station.connectors[evse_id].transaction is tx
        await station.stop_transaction(evse_id, "Local")
        ledger.stop_wh[tx.local_id] = station.connectors[evse_id].meter_wh
        await pause(stop, rng.uniform(0.0, 0.3))


# --- what the database must hold ------------------------------------------------------------------


@dataclass
class Tally:
    transactions: int = 0
    samples: int = 0
    energy_metered_wh: float = 0.0
    energy_stored_wh: float = 0.0
    problems: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.transactions += other.transactions
        self.samples += other.samples
        self.energy_metered_wh += other.energy_metered_wh
        self.energy_stored_wh += other.energy_stored_wh
        self.problems += other.problems


def sent_samples(ledger: Ledger) -> dict[Key, Counter]:
    """Per transaction id (1.6: the CSMS's, 2.0.1: the station's), every sample the station sent:
    (time, measurand, context, value)."""
    found: dict[Key, Counter] = defaultdict(Counter)
    for item in ledger.items:
        payload = item.payload
        assert payload is not None, f"{item.action} was never sent"
        if item.action == "TransactionEvent":
            key, meter_values = (
                payload["transactionInfo"]["transactionId"],
                payload.get("meterValue"),
            )
        elif item.action == "MeterValues":
            key, meter_values = payload["transactionId"], payload["meterValue"]
        elif item.action == "StopTransaction":
            key, meter_values = payload["transactionId"], payload.get("transactionData")
        else:
            continue
        for meter_value in meter_values or []:
            at = parse_ocpp_time(meter_value["timestamp"])
            for value in meter_value["sampledValue"]:
                found[key][
                    at,
                    value.get("measurand", ENERGY),
                    value.get("context", "Sample.Periodic"),
                    float(value["value"]),
                ] += 1
    return found


def check_station(ledger: Ledger) -> Tally:
    """Compare what one station metered and sent with what the database holds."""
    identity, tally = ledger.station.identity, Tally()
    problems = tally.problems
    v16 = ledger.version == "1.6"
    rows = list(Transaction.objects.filter(station_id=identity))
    key_of: dict[int, Key] = {row.pk: (row.pk if v16 else row.ocpp_id) for row in rows}
    by_key: dict[Key, list[Transaction]] = defaultdict(list)
    for row in rows:
        by_key[key_of[row.pk]].append(row)
    started: dict[Key, StationTransaction] = {
        (tx.csms_id if v16 else tx.local_id): tx for tx in ledger.started
    }
    if None in started:
        problems.append(f"{identity}: a StartTransaction was never answered")
    if len(rows) != len(started) or set(by_key) != set(started):
        problems.append(
            f"{identity}: the station started {sorted(started, key=str)}, the database holds "
            f"{sorted(key_of.values(), key=str)}"
        )
    stored: dict[Key, Counter] = defaultdict(Counter)
    for tx_pk, at, measurand, context, value in MeterSample.objects.filter(
        station_id=identity
    ).values_list("transaction_id", "timestamp", "measurand", "context", "value"):
        stored[key_of.get(tx_pk, tx_pk)][at, measurand, context, value] += 1
    sent = sent_samples(ledger)
    for key in set(sent) | set(stored):
        tally.samples += sum(sent[key].values())
        if stored[key] != sent[key]:
            missing, extra = sent[key] - stored[key], stored[key] - sent[key]
            problems.append(
                f"{identity} transaction {key}: {sum(sent[key].values())} samples sent, "
                f"{sum(stored[key].values())} stored; missing {sorted(missing)[:3]}..., "
                f"extra {sorted(extra)[:3]}..."
            )
    for key, tx in started.items():
        matches = by_key.get(key, [])
        if len(matches) != 1:
            continue  # reported above
        row = matches[0]
        stop_wh = ledger.stop_wh.get(tx.local_id)
        if stop_wh is None:
            problems.append(f"{identity} transaction {key}: the driver never stopped it")
            continue
        tally.transactions += 1
        exact = int if v16 else (lambda wh: round(wh, 1))
        metered = exact(stop_wh) - exact(tx.meter_start_wh)
        tally.energy_metered_wh += metered
        tally.energy_stored_wh += row.energy_wh
        expected = {
            "evse_id": tx.evse_id,
            "id_token": TAG,
            "is_active": False,
            "meter_start_wh": exact(tx.meter_start_wh),
            "meter_stop_wh": exact(stop_wh),
            "stop_reason": "Local",
        }
        actual = {name: getattr(row, name) for name in expected}
        if actual != expected or abs(row.energy_wh - metered) > 0.001:
            problems.append(
                f"{identity} transaction {key}: expected {expected}, energy {metered}; "
                f"stored {actual}, energy {row.energy_wh}"
            )
        if not v16:
            seq_nos = sorted(
                TransactionEvent.objects.filter(transaction=row).values_list("seq_no", flat=True)
            )
            if seq_nos != list(range(tx.seq_no)) or row.last_seq_no != tx.seq_no - 1:
                problems.append(
                    f"{identity} transaction {key}: events 0..{tx.seq_no - 1} sent, "
                    f"seqNos {seq_nos} stored (last_seq_no {row.last_seq_no})"
                )
    return tally


@database_sync_to_async
def check_all(ledgers: list[Ledger]) -> Tally:
    tally = Tally()
    for ledger in ledgers:
        tally.add(check_station(ledger))
    return tally


@database_sync_to_async
def register_fleet() -> None:
    for identity, _ in FLEET:
        Station.objects.create(id=identity, registration_status="Accepted")
    IdToken.objects.get_or_create(token=TAG)


# --- the fleet ----------------------------------------------------------------------------------


class Fleet:
    """The emulated stations, their ledgers and their drivers."""

    def __init__(self, url: str, seed: int, call_timeout: float):
        self.progress = Progress()
        self.rng = random.Random(seed)
        self.stations = [
            make_station(url, identity, version, seed + index, call_timeout, self.progress)
            for index, (identity, version) in enumerate(FLEET)
        ]
        self.ledgers = [station.ledger for station in self.stations]
        self.stop_driving = asyncio.Event()
        self._runs: list[asyncio.Task] = []
        self._drivers: list[asyncio.Task] = []

    def start(self) -> None:
        self._runs = [asyncio.create_task(station.run()) for station in self.stations]
        self._drivers = [
            asyncio.create_task(
                drive(ledger, evse_id, random.Random(self.rng.random()), self.stop_driving)
            )
            for ledger in self.ledgers
            for evse_id in ledger.station.connectors
        ]

    @property
    def received(self) -> int:
        return sum(ledger.received for ledger in self.ledgers)

    def callerrors(self, code: str | None = None) -> int:
        return sum(
            sum(ledger.callerrors.values()) if code is None else ledger.callerrors[code]
            for ledger in self.ledgers
        )

    async def online(self, diagnostics: Callable[[], str]) -> None:
        await self.progress.until(
            lambda: all(s.online.is_set() for s in self.stations), "stations online", diagnostics
        )

    async def frames(self, count: int, diagnostics: Callable[[], str]) -> None:
        """Until the stations have received `count` more frames from the CSMS."""
        target = self.received + count
        await self.progress.until(
            lambda: self.received >= target, f"{count} frames answered", diagnostics
        )

    @property
    def queued(self) -> int:
        return sum(len(s.outbox) for s in self.stations)

    async def backlog_below(self, limit: int, diagnostics: Callable[[], str]) -> None:
        """Until the stations have no more than `limit` transaction messages waiting."""
        await self.progress.until(
            lambda: self.queued <= limit, f"backlog of at most {limit}", diagnostics
        )

    async def finish(self, diagnostics: Callable[[], str]) -> None:
        """Stop every session, then wait until every station has delivered everything."""
        self.stop_driving.set()
        try:
            async with asyncio.timeout(WAIT):
                await asyncio.gather(*self._drivers)
                await asyncio.gather(*(s.outbox_drained() for s in self.stations))
        except TimeoutError:
            queued = {s.identity: len(s.outbox) for s in self.stations}
            raise AssertionError(
                f"stations did not deliver everything within {WAIT} s: queued {queued}\n"
                f"{diagnostics()}"
            ) from None

    async def close(self) -> None:
        self.stop_driving.set()
        for station in self.stations:
            station.stop()
            station.close_connection()
        for task in self._drivers:
            task.cancel()
        await asyncio.gather(*self._drivers, return_exceptions=True)
        try:
            async with asyncio.timeout(5):
                await asyncio.gather(*self._runs, return_exceptions=True)
        except TimeoutError:
            for task in self._runs:
                task.cancel()
            await asyncio.gather(*self._runs, return_exceptions=True)

    def figures(self) -> dict[str, Any]:
        resent: Counter = Counter()
        for ledger in self.ledgers:
            resent.update(ledger.resent)
        return {
            "sessions started": sum(len(ledger.started) for ledger in self.ledgers),
            "transaction messages queued": sum(len(ledger.items) for ledger in self.ledgers),
            "sent more than once": dict(resent),
            "connections": sum(s.stats.connects for s in self.stations),
            "CALLERRORs received": dict(
                sum((ledger.callerrors for ledger in self.ledgers), Counter())
            ),
            "transaction messages failed and retried": sum(
                ledger.failed_attempts for ledger in self.ledgers
            ),
            "messages dropped": sum(s.stats.dropped for s in self.stations),
        }


def report(title: str, figures: dict[str, Any], tally: Tally, seconds: float) -> str:
    lines = [f"{title} ({seconds:.1f} s)"]
    lines += [f"  {name}: {value}" for name, value in figures.items()]
    lines += [
        f"  transactions checked: {tally.transactions}",
        f"  samples checked: {tally.samples}",
        f"  energy metered: {tally.energy_metered_wh:.1f} Wh, "
        f"stored: {tally.energy_stored_wh:.1f} Wh",
    ]
    return "\n".join(lines)


def assert_exactly_once(fleet: Fleet, tally: Tally, summary: str) -> None:
    print("\n" + summary, flush=True)
    assert not tally.problems, summary + "\n" + "\n".join(tally.problems[:20])
    assert all(s.stats.dropped == 0 for s in fleet.stations), summary
    assert tally.transactions == sum(len(ledger.started) for ledger in fleet.ledgers), summary
    assert tally.energy_stored_wh == pytest.approx(tally.energy_metered_wh, abs=0.01), summary


# --- the tests ------------------------------------------------------------------------------------


async def test_sigkill_of_the_csms_loses_and_doubles_nothing():
    """SIGKILL after a random number of answered frames, restart on the same port, again and again:
    StartTransactions, meter values and stops whose answers died with the server are resent, and
    each is stored exactly once."""
    began = time.monotonic()
    await register_fleet()
    rng = random.Random(20260808)
    server = CrashableServer()
    fleet: Fleet | None = None
    try:
        await asyncio.to_thread(server.start)
        fleet = Fleet(server.url, seed=8, call_timeout=10)
        fleet.start()
        await fleet.online(server.output)
        while server.kills < KILLS:
            # A random moment: after 1 to 60 more answers from this server, plus up to 50 ms.
            await fleet.frames(rng.randint(1, 60), server.output)
            await fleet.backlog_below(BACKLOG, server.output)
            await asyncio.sleep(rng.uniform(0, 0.05))
            await asyncio.to_thread(server.kill)
            await asyncio.sleep(rng.uniform(0, 0.3))  # down for a moment: messages queue up
            await asyncio.to_thread(server.start)
        kills = server.kills
        await fleet.finish(server.output)
        assert server.alive(), server.output()
    finally:
        if fleet is not None:
            await fleet.close()
        await asyncio.to_thread(server.stop)

    tally = await check_all(fleet.ledgers)
    figures = {"kills survived": kills, **fleet.figures()}
    summary = report("SIGKILL test", figures, tally, time.monotonic() - began)
    assert_exactly_once(fleet, tally, summary)
    assert kills >= 30 and tally.transactions >= 3 * len(fleet.stations), summary
    assert sum(fleet.figures()["sent more than once"].values()) > 0, summary


async def test_a_sigkill_inside_a_batch_loses_and_doubles_nothing(tmp_path):
    """Group commit (issue 15): the server is killed while a batch of several stations' writes is
    applied but not committed (tests/batch_hold.py holds it open). None of those messages was
    answered; each is resent after the restart and stored exactly once, in order."""
    began = time.monotonic()
    await register_fleet()
    rng = random.Random(20261203)
    hold = tmp_path / "hold-next-batch"
    server = CrashableServer(env={"CSMS_TEST_HOLD_BATCH": str(hold)})
    fleet: Fleet | None = None
    try:
        await asyncio.to_thread(server.start)
        fleet = Fleet(server.url, seed=15, call_timeout=10)
        fleet.start()
        await fleet.online(server.output)
        while server.kills < KILLS_IN_BATCH:
            await fleet.frames(rng.randint(5, 40), server.output)
            await fleet.backlog_below(BACKLOG, server.output)
            server.batch_held.clear()
            hold.touch()
            if not await asyncio.to_thread(server.batch_held.wait, WAIT):
                raise AssertionError(f"no batch held within {WAIT} s\n{server.output()}")
            await asyncio.to_thread(server.kill)
            hold.unlink()
            await asyncio.to_thread(server.start)
        await fleet.finish(server.output)
        assert server.alive(), server.output()
    finally:
        if fleet is not None:
            await fleet.close()
        await asyncio.to_thread(server.stop)

    tally = await check_all(fleet.ledgers)
    figures = {
        "kills inside a batch": server.kills,
        "writes in each killed batch": server.held_sizes,
        **fleet.figures(),
    }
    summary = report("SIGKILL inside a batch", figures, tally, time.monotonic() - began)
    assert_exactly_once(fleet, tally, summary)
    # PostgreSQL has several lanes: more than one batch may be held open when the kill lands.
    assert len(server.held_sizes) >= KILLS_IN_BATCH, summary
    assert all(size >= 2 for size in server.held_sizes), summary
    assert sum(fleet.figures()["sent more than once"].values()) > 0, summary


class SqliteLock:
    """Another process's write lock on the SQLite test database: the CSMS's writes wait for it
    (busy_timeout) and then fail with 'database is locked'."""

    def __init__(self) -> None:
        self.path = connection.settings_dict["NAME"]
        self.db = sqlite3.connect(
            self.path, isolation_level=None, timeout=WAIT, check_same_thread=False
        )

    def cut(self) -> None:
        self.db.execute("BEGIN EXCLUSIVE")

    def restore(self) -> None:
        self.db.execute("ROLLBACK")

    def stop(self) -> None:
        self.db.close()


def through_proxy(proxy: TcpProxy) -> str:
    """The test database's URL with the proxy in the way."""
    parts = urlsplit(servers.test_database_url())
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def test_a_database_outage_loses_and_doubles_nothing():
    """The database goes away while stations charge: the CSMS answers InternalError (or the
    stations time out), stays up, and once the database is back every retried message is stored
    exactly once."""
    began = time.monotonic()
    await register_fleet()
    sqlite = connection.vendor == "sqlite"
    outage: SqliteLock | TcpProxy
    if sqlite:
        outage = SqliteLock()
        server = servers.AsgiServer("uvicorn", env=SERVER_SETTINGS)
        # The CSMS waits busy_timeout (10 s) for the lock before it fails; the stations give up on
        # an answer sooner and resend, so the retries queue up behind the lock too.
        call_timeout = 4.0
    else:
        settings = connection.settings_dict
        proxy = TcpProxy(settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)).start()
        server = servers.AsgiServer(
            "uvicorn", env={**SERVER_SETTINGS, "DATABASE_URL": through_proxy(proxy)}
        )
        outage = proxy
        call_timeout = 10.0
    fleet: Fleet | None = None
    try:
        await asyncio.to_thread(server.start)
        fleet = Fleet(server.url, seed=13, call_timeout=call_timeout)
        fleet.start()
        await fleet.online(server.output)
        await fleet.frames(100, server.output)  # sessions under way
        errors_before = fleet.callerrors("InternalError")
        await asyncio.to_thread(outage.cut)
        cut_at = time.monotonic()
        try:
            if sqlite:
                # The CSMS waits busy_timeout for the lock before it fails, one message at a time
                # (one database thread): down until a station got the first InternalError.
                await fleet.progress.until(
                    lambda: fleet.callerrors("InternalError") > errors_before,
                    "InternalError answer during the outage",
                    server.output,
                )
            else:
                # Refused at once: down until every station was refused eight times (about 2 s,
                # as each retry waits a little longer).
                before = [ledger.callerrors["InternalError"] for ledger in fleet.ledgers]
                await fleet.progress.until(
                    lambda: all(
                        ledger.callerrors["InternalError"] >= count + 8
                        for ledger, count in zip(fleet.ledgers, before, strict=True)
                    ),
                    "eight InternalError answers to every station during the outage",
                    server.output,
                )
        finally:
            await asyncio.to_thread(outage.restore)
        outage_seconds = time.monotonic() - cut_at
        assert server.alive(), server.output()
        await fleet.frames(100, server.output)  # charging goes on after the outage
        await fleet.finish(server.output)
        assert server.alive(), server.output()
    finally:
        if fleet is not None:
            await fleet.close()
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(outage.stop)

    tally = await check_all(fleet.ledgers)
    figures = {
        "database": "SQLite (write lock held)" if sqlite else "PostgreSQL (link cut)",
        "outage": f"{outage_seconds:.1f} s",
        **fleet.figures(),
    }
    summary = report("Database outage test", figures, tally, time.monotonic() - began)
    assert_exactly_once(fleet, tally, summary)
    assert fleet.callerrors("InternalError") > errors_before, summary
    assert fleet.figures()["transaction messages failed and retried"] > 0, summary
