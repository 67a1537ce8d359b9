"""Idle capacity: how many connected stations a server holds, and what each one costs in memory.

The issue's budget is at most 40 kB of server RSS per connected station, with 10,000 stations on
two workers. N stations connect and boot (at most `ADMIT_CONCURRENCY` at a time: a fleet coming
back, not the all-at-once boot storm, which is its own scenario), then every station sends one
Heartbeat, paced over `idle_round_seconds`, then they all sit idle for `idle_hold_seconds`.

Memory: RSS of the server's process tree after the warm-up stations left (idle) and once all N are
connected and booted; RSS/conn is the difference over N. The heartbeat round's latencies and CPU
make the row's figures; the notes add the connect + boot cost per station and the server's CPU while
N stations sit idle.

Checks, each reported in the notes: every handshake succeeded and every boot was Accepted; every
station answered its Heartbeat and none was closed by the end of the hold; in the database, N
stations are `connected` and N have a `last_heartbeat_at` (written by the presence flush).
"""

from __future__ import annotations

import asyncio
import os
import time

from bench import client
from bench.client import Station, Stats
from bench.scenarios import (
    Plan,
    Target,
    failure_notes,
    heartbeat_job,
    measured,
    prime,
    row,
    settle,
)
from bench.server import cpu_seconds, rss_bytes

ADMIT_CONCURRENCY = 200  # stations between "connecting" and "Accepted" at any moment
RSS_BUDGET_KB = 40.0  # per connected station (issue 7)
PRESENCE_WAIT_SECONDS = 10.0  # > OCPP_PRESENCE_FLUSH_SECONDS (5 s) + one flush's duration


async def admit(target: Target, idents: list[str], boots: Stats) -> tuple[list[Station], int, int]:
    """Connect and boot every station, `ADMIT_CONCURRENCY` at a time.

    Returns (Accepted stations, failed handshakes, boots not Accepted)."""
    gate = asyncio.Semaphore(ADMIT_CONCURRENCY)
    accepted: list[Station] = []
    failed_handshakes = refused = 0
    boot = client.boot_payload(target.version)

    async def one(ident: str) -> None:
        nonlocal failed_handshakes, refused
        async with gate:
            try:
                station = await client.open_station(
                    target.station_url(ident), ident, target.subprotocol, open_timeout=60
                )
            except Exception:
                failed_handshakes += 1
                return
            answer = await station.call("BootNotification", boot, boots, 60)
            if answer and answer[2].get("status") == "Accepted":
                accepted.append(station)
            else:
                refused += 1
                await station.close()

    await asyncio.gather(*(one(i) for i in idents))
    return accepted, failed_handshakes, refused


async def _wait_for_count(count, expected: int, timeout: float) -> int:
    """Poll a database count (a blocking callable) until it reaches `expected` or time is up."""
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(count)
        if found >= expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def idle_capacity(target: Target, plan: Plan) -> dict:
    assert target.db is not None

    async def once(station: Station) -> None:
        await station.call("Heartbeat", "{}", Stats(), 30)

    await prime(target, "idle", once)
    rss_idle = rss_bytes(target.pid)
    client_rss_idle = rss_bytes(os.getpid())
    n = plan.idle_stations
    prefix = f"idle{target.workers}-"
    idents = [f"{prefix}{i}" for i in range(n)]
    boots = Stats()
    stations: list[Station] = []
    failed_handshakes = refused = 0
    connect_seconds = 0.0

    async def connect_all() -> None:
        nonlocal stations, failed_handshakes, refused, connect_seconds
        began = time.perf_counter()
        stations, failed_handshakes, refused = await admit(target, idents, boots)
        connect_seconds = time.perf_counter() - began

    try:
        connect_cpu = await measured(target, connect_all)
        rss_connected = rss_bytes(target.pid)
        client_rss_connected = rss_bytes(os.getpid())
        # Sockets the server holds while RSS is read (a worker lost during connect loses its own).
        open_at_rss = sum(1 for s in stations if s.ws.close_code is None)
        stats = Stats()
        rate = len(stations) / plan.idle_round_seconds
        cpu = await measured(
            target,
            lambda: client.paced(
                stations, heartbeat_job, rate, plan.idle_round_seconds, stats, 30, len(stations)
            ),
        )
        closed_after_round = sum(1 for s in stations if s.ws.close_code is not None)
        hold_cpu = cpu_seconds(target.pid)
        await asyncio.sleep(plan.idle_hold_seconds)
        hold_cpu = cpu_seconds(target.pid) - hold_cpu
        closed_after_hold = sum(1 for s in stations if s.ws.close_code is not None)
        rss_end = rss_bytes(target.pid)
        connected_rows = await asyncio.to_thread(target.db.stations, prefix, "connected")
        heartbeat_rows = await _wait_for_count(
            lambda: target.db.stations(prefix, "last_heartbeat_at IS NOT NULL"),
            len(stations),
            PRESENCE_WAIT_SECONDS,
        )
    finally:
        await client.close_stations(stations)
        await settle()
    connected = len(stations)
    summary = stats.summary()
    per_conn_kb = (rss_connected - rss_idle) / max(open_at_rss, 1) / 1024
    client_per_conn_kb = (client_rss_connected - client_rss_idle) / max(connected, 1) / 1024
    checks = [
        f"{connected}/{n} connected and Accepted"
        + (f" ({failed_handshakes} handshakes failed)" if failed_handshakes else "")
        + (f" ({refused} boots not Accepted)" if refused else ""),
        f"heartbeats answered {stats.answered}/{connected}",
        f"closed by the server {closed_after_hold}" if closed_after_hold else "none closed",
        f"db: connected {connected_rows}, heartbeat recorded {heartbeat_rows}",
    ]
    ok = (
        connected == n
        and stats.answered == connected
        and closed_after_hold == 0
        and connected_rows == heartbeat_rows == connected
    )
    budget = "OK" if per_conn_kb <= RSS_BUDGET_KB else "OVER"
    return row(
        "idle_capacity",
        target,
        open_at_rss,
        summary,
        messages=stats.answered,
        cpu=cpu,
        rss_idle=rss_idle,
        rss_connected=rss_connected,
        rss_end=rss_end,
        notes=[
            ("checks OK: " if ok else "CHECKS FAILED: ") + ", ".join(checks),
            f"RSS/conn {per_conn_kb:.1f} kB vs budget {RSS_BUDGET_KB:g} kB: {budget}"
            + (f" (over the {open_at_rss} still open)" if open_at_rss != connected else ""),
            f"connect+boot {connect_seconds:.1f} s,"
            f" {connect_cpu.server / max(connected, 1) * 1e6:.0f} µs CPU/station",
            f"heartbeat round at {rate:.0f}/s",
            f"idle: {hold_cpu / plan.idle_hold_seconds * 100:.1f} % CPU",
            f"load client {client_per_conn_kb:.1f} kB/conn",
            *failure_notes(summary),
        ],
        checks_ok=ok,
        failed_handshakes=failed_handshakes,
        boots_refused=refused,
        open_at_rss=open_at_rss,
        closed_after_round=closed_after_round,
        closed_after_hold=closed_after_hold,
        db_connected=connected_rows,
        db_heartbeat_recorded=heartbeat_rows,
        rss_per_conn_budget_kb=RSS_BUDGET_KB,
        connect_seconds=connect_seconds,
        connect_cpu_us_per_station=connect_cpu.server / max(connected, 1) * 1e6,
        idle_cpu_percent=hold_cpu / plan.idle_hold_seconds * 100,
        client_rss_per_conn_kb=client_per_conn_kb,
        boot_latency=boots.summary(),
    )
