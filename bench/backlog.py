"""Offline backlog: a station comes back online and delivers the transaction messages it queued.

OCPP lets a station send one CALL at a time, so a backlog drains at exactly the round-trip rate of
one socket: each message waits for the answer to the one before. What matters is how long the
drain takes (the station's queue, and its memory, stay full until then) and that every queued
message is stored once.

- `offline_backlog_16`: a 1.6 station boots and starts a transaction, its socket closes, it
  reconnects (no new boot: it was Accepted) and sends `backlog_messages` MeterValues (10 samples
  each, timestamps in the past) back-to-back.
- `offline_backlog_201`: the same with 2.0.1 TransactionEvent Updated, `"offline": true`, seqNo 1..N.

The row: drain time and msgs/s, per-message latency, the server's CPU per message over the drain
(the reconnect excluded). Checks in the database afterwards: exactly N x 10 meter samples stored for
the station, and for 2.0.1 exactly N offline TransactionEvent rows (one per seqNo).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from bench import client
from bench.client import Station, Stats
from bench.scenarios import (
    Plan,
    Target,
    connect_and_boot,
    failure_notes,
    measured,
    prime,
    row,
    start_transaction,
)
from bench.server import rss_bytes

TIMEOUT = 30.0  # seconds per message


async def offline_backlog(target: Target, plan: Plan, name: str) -> dict:
    assert target.db is not None

    async def once(station: Station) -> None:
        if await start_transaction(target, station, Stats()):
            for _ in range(3):
                await station.call(*client.meter_payload(target.version, station), Stats(), 30)

    await prime(target, name, once)
    rss_idle = rss_bytes(target.pid)
    ident = f"{name}-{target.workers}w"
    online, notes = await connect_and_boot(target, [ident])
    if not online:
        raise RuntimeError(f"the backlog station was not Accepted: {'; '.join(notes)}")
    if not await start_transaction(target, online[0], Stats()):
        raise RuntimeError("the backlog station could not start its transaction")
    state = online[0].state
    await client.close_stations(online)  # offline: messages queue up in the station

    began = time.perf_counter()
    station = await client.open_station(target.station_url(ident), ident, target.subprotocol)
    reconnect_ms = (time.perf_counter() - began) * 1e3
    station.state = state
    rss_connected = rss_bytes(target.pid)
    n = plan.backlog_messages
    offline = target.version == "2.0.1"
    queued = [client.meter_payload(target.version, station, offline=offline) for _ in range(n)]
    stats = Stats()
    drain_seconds = 0.0

    async def drain() -> None:
        nonlocal drain_seconds
        began = time.perf_counter()
        for action, payload in queued:
            # A message that fails is sent again, as a station keeps it queued until answered.
            for _attempt in range(3):
                if await station.call(action, payload, stats, TIMEOUT) is not None:
                    break
        drain_seconds = time.perf_counter() - began

    try:
        cpu = await measured(target, drain)
        rss_end = rss_bytes(target.pid)
    finally:
        await station.close()
    summary = stats.summary()
    summary["msg_per_s"] = stats.answered / drain_seconds if drain_seconds else 0.0
    expected = n * client.SAMPLES_PER_MESSAGE
    stored = await _count(target, "meter_samples", ident)
    checks = [f"samples stored {stored} {'=' if stored == expected else '≠'} {n}x10"]
    ok = stored == expected
    extra: dict = {"samples_expected": expected, "samples_stored": stored}
    if target.version == "2.0.1":
        events = await _count(target, "transaction_events", ident, "e.offline")
        checks.append(f"offline events stored {events} {'=' if events == n else '≠'} {n}")
        ok = ok and events == n
        extra["offline_events_stored"] = events
    return row(
        name,
        target,
        1,
        summary,
        messages=stats.answered,
        cpu=cpu,
        rss_idle=rss_idle,
        rss_connected=rss_connected,
        rss_end=rss_end,
        notes=[
            f"{n} queued messages drained in {drain_seconds:.2f} s",
            ("stored exactly once OK: " if ok else "CHECK FAILED: ") + ", ".join(checks),
            f"reconnect {reconnect_ms:.0f} ms",
            "RSS/conn: one station, not meaningful",
            *failure_notes(summary),
        ],
        backlog_messages=n,
        drain_seconds=drain_seconds,
        reconnect_ms=reconnect_ms,
        stored_ok=ok,
        **extra,
    )


async def _count(target: Target, method: str, ident: str, *args: str) -> int:
    """A count of the database helpers for the identity (a LIKE prefix: no other identity of
    the run starts with it)."""
    assert target.db is not None
    return await asyncio.to_thread(getattr(target.db, method), ident, *args)


async def offline_backlog_16(target: Target, plan: Plan) -> dict:
    return await offline_backlog(replace(target, version="1.6"), plan, "offline_backlog_16")


async def offline_backlog_201(target: Target, plan: Plan) -> dict:
    return await offline_backlog(replace(target, version="2.0.1"), plan, "offline_backlog_201")


SCENARIOS = {
    "offline_backlog_16": offline_backlog_16,
    "offline_backlog_201": offline_backlog_201,
}
