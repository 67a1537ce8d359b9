"""The scenarios: each one drives a freshly started server and returns one row of the table.

Every measured phase is framed the same way: let the server settle (its message log is flushed
every 0.5 s), read its CPU time, run the phase, let it settle again, read its CPU time. The
difference, divided by the messages answered in the phase, is the server's CPU per message, flushes
of that phase's message log included.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson

from bench import client
from bench.client import Station, Stats
from bench.server import BenchDatabase, cpu_seconds, rss_bytes, service_cpu_seconds

SETTLE_SECONDS = 0.7  # > OCPP_MESSAGE_LOG_FLUSH_SECONDS: the phase's log rows are written


@dataclass(frozen=True)
class Plan:
    """Sizes and rates of one run (`--quick` or the default)."""

    stations: int  # echo, heartbeat, meter_values, baseline
    rate: float  # heartbeat and echo messages/s; meter_values at half this rate
    duration: float  # seconds of each measured phase
    warmup: float  # seconds of unmeasured load before it
    boot_storm_stations: int
    command_stations: int
    command_rate: float
    idle_stations: int  # idle_capacity: stations connected at once
    idle_round_seconds: float  # idle_capacity: every station sends one Heartbeat within this
    idle_hold_seconds: float  # idle_capacity: then all sit idle (server CPU while idle)
    knee_stations: int  # knee_*: the stations the offered rate is spread over
    knee_step_seconds: float  # knee_*: length of one rate step
    knee_start_rate: float  # knee_*: first step (messages/s)
    knee_factor: float  # knee_*: each step offers this times the previous one...
    knee_refinements: int  # ...then this many bisections between the last good and first bad
    knee_max_rate: float  # knee_*: stop stepping here (messages/s)
    knee_budget_seconds: float  # knee_*: no new step after this long
    backlog_messages: int  # offline_backlog_*: queued messages delivered after reconnecting
    charging_share: float = 0.3  # meter_values: the share of stations in a transaction


FULL = Plan(
    stations=200,
    rate=1000,
    duration=5,
    warmup=1,
    boot_storm_stations=5000,
    command_stations=5000,
    command_rate=100,
    idle_stations=10_000,
    idle_round_seconds=20,
    idle_hold_seconds=10,
    knee_stations=200,
    knee_step_seconds=4,
    knee_start_rate=50,
    knee_factor=1.5,
    knee_refinements=3,
    knee_max_rate=6000,
    knee_budget_seconds=150,
    backlog_messages=1000,
)
QUICK = Plan(
    stations=50,
    rate=500,
    duration=3,
    warmup=0.5,
    boot_storm_stations=300,
    command_stations=200,
    command_rate=20,
    idle_stations=500,
    idle_round_seconds=2,
    idle_hold_seconds=2,
    knee_stations=50,
    knee_step_seconds=1.5,
    knee_start_rate=100,
    knee_factor=2,
    knee_refinements=1,
    knee_max_rate=3200,
    knee_budget_seconds=25,
    backlog_messages=300,
)


@dataclass
class Target:
    """The server a scenario drives."""

    pid: int  # root of the server's process tree
    ws_url: str
    port: int
    db: BenchDatabase | None  # None: the bare ocpp-library server (nothing stored)
    workers: int
    version: str  # OCPP version of the stations
    token: str = ""
    bare: bool = False

    @property
    def db_name(self) -> str:
        return self.db.name if self.db else "-"

    def station_url(self, ident: str) -> str:
        return f"{self.ws_url}/{ident}" if self.bare else f"{self.ws_url}/ocpp/{ident}"

    @property
    def subprotocol(self) -> str:
        return client.SUBPROTOCOLS[self.version]


async def settle() -> None:
    await asyncio.sleep(SETTLE_SECONDS)


@dataclass
class Cpu:
    """CPU seconds a measured phase cost: the server's process tree, the load client, and the
    services outside the server (PostgreSQL, Redis), which the server's tree does not include."""

    server: float = 0.0
    client: float = 0.0
    postgres: float = 0.0
    redis: float = 0.0


def _services(target: Target) -> tuple[float, float]:
    postgres = service_cpu_seconds("postgres") if target.db_name == "postgres" else 0.0
    redis = service_cpu_seconds("redis-server") if target.workers > 1 and not target.bare else 0.0
    return postgres, redis


async def measured(target: Target, phase: Callable[[], Awaitable[None]]) -> Cpu:
    """Run `phase`; return the CPU it took."""
    await settle()
    server, client_cpu, (postgres, redis) = (
        cpu_seconds(target.pid),
        time.process_time(),
        _services(target),
    )
    await phase()
    await settle()
    postgres_after, redis_after = _services(target)
    return Cpu(
        server=cpu_seconds(target.pid) - server,
        client=time.process_time() - client_cpu,
        postgres=postgres_after - postgres,
        redis=redis_after - redis,
    )


def row(
    scenario: str,
    target: Target,
    stations: int,
    summary: dict,
    *,
    messages: int,
    cpu: Cpu,
    rss_idle: int,
    rss_connected: int,
    rss_end: int,
    notes: list[str],
    **extra,
) -> dict:
    connections = max(stations, 1)

    def per_message(seconds: float) -> float:
        return seconds / messages * 1e6 if messages else float("nan")

    services = [
        f"+{name} {per_message(seconds):.0f} µs/msg"
        for name, seconds in (("postgres", cpu.postgres), ("redis", cpu.redis))
        if seconds
    ]
    return {
        "scenario": scenario,
        "db": target.db_name,
        "workers": target.workers,
        "ocpp": target.version,
        "stations": stations,
        "msgs": messages,
        **summary,
        "server_cpu_s": cpu.server,
        "cpu_us_per_msg": per_message(cpu.server),
        "client_cpu_us_per_msg": per_message(cpu.client),
        "postgres_cpu_us_per_msg": per_message(cpu.postgres),
        "redis_cpu_us_per_msg": per_message(cpu.redis),
        "rss_idle_mb": rss_idle / 2**20,
        "rss_mb": rss_end / 2**20,
        "rss_per_conn_kb": (rss_connected - rss_idle) / connections / 1024,
        "notes": "; ".join(n for n in [*notes, ", ".join(services)] if n),
        **extra,
    }


def failure_notes(summary: dict, connect_failures: int = 0) -> list[str]:
    notes = []
    if connect_failures:
        notes.append(f"{connect_failures} handshakes failed")
    if summary.get("missed_sends"):
        notes.append(f"{summary['missed_sends']} sends dropped: every station awaited an answer")
    if summary.get("error_codes"):
        notes.append(
            "CALLERRORs " + ", ".join(f"{k}x{v}" for k, v in summary["error_codes"].items())
        )
    if summary.get("timeouts"):
        notes.append(f"{summary['timeouts']} timeouts")
    if summary.get("closed"):
        notes.append(f"{summary['closed']} on closed sockets")
    return notes


# --- Shared steps --------------------------------------------------------------------------------


async def connect_and_boot(
    target: Target, idents: list[str], concurrency: int = 100
) -> tuple[list[Station], list[str]]:
    """Connect and boot stations; returns the Accepted ones and notes on the others."""
    stations, failures = await client.open_stations(
        target.station_url, idents, target.subprotocol, concurrency
    )
    boots = Stats()
    answers = await client.each(
        stations, lambda s: ("BootNotification", client.boot_payload(target.version)), boots
    )
    accepted = [s for s, a in zip(stations, answers, strict=True) if a and _accepted(a)]
    notes = []
    if failures:
        notes.append(f"{failures} handshakes failed")
    if len(accepted) < len(stations):
        notes.append(f"{len(stations) - len(accepted)} boots not Accepted")
    return accepted, notes


def _accepted(answer: list) -> bool:
    return answer[0] == 3 and answer[2].get("status") == "Accepted"


async def prime(
    target: Target, name: str, actions: Callable[[Station], Awaitable[None]] | None = None
) -> None:
    """A few throwaway stations boot and run the scenario's messages once (schemas compiled, code
    paths imported) in every worker before anything is measured, the idle RSS included."""
    idents = [f"warm{target.workers}-{name}-{i}" for i in range(2 * target.workers)]
    stations, _ = await connect_and_boot(target, idents)
    if actions is not None:
        await asyncio.gather(*(actions(s) for s in stations))
    await client.close_stations(stations)


def heartbeat_job(station: Station) -> tuple[str, str]:
    return "Heartbeat", "{}"


async def paced_phases(
    target: Target, stations: list[Station], job, rate: float, plan: Plan
) -> tuple[Stats, Stats, Cpu]:
    """Warm-up, then the measured phase; returns (warm-up stats, stats, CPU)."""
    warm = Stats()
    await client.paced(stations, job, rate, plan.warmup, warm)
    stats = Stats()
    cpu = await measured(target, lambda: client.paced(stations, job, rate, plan.duration, stats))
    return warm, stats, cpu


# --- 1. echo -------------------------------------------------------------------------------------


async def echo(target: Target, plan: Plan) -> dict:
    """Heartbeat-shaped frames to /echo/<id> on the same server: the floor of the stack."""
    rss_idle = rss_bytes(target.pid)
    idents = [f"echo{target.workers}-{i}" for i in range(plan.stations)]
    stations, failures = await client.open_stations(
        lambda ident: f"{target.ws_url}/echo/{ident}", idents, None
    )
    rss_connected = rss_bytes(target.pid)
    try:
        _, stats, cpu = await paced_phases(target, stations, heartbeat_job, plan.rate, plan)
        rss_end = rss_bytes(target.pid)
    finally:
        await client.close_stations(stations)
    summary = stats.summary()
    return row(
        "echo",
        target,
        len(stations),
        summary,
        messages=stats.answered,
        cpu=cpu,
        rss_idle=rss_idle,
        rss_connected=rss_connected,
        rss_end=rss_end,
        notes=[f"offered {plan.rate:g}/s", *failure_notes(summary, failures)],
        offered_rate=plan.rate,
    )


# --- 2. heartbeat (and 6. baseline_ocpp_lib) -----------------------------------------------------


async def heartbeat(target: Target, plan: Plan, name: str = "heartbeat") -> dict:
    async def once(station: Station) -> None:
        await station.call("Heartbeat", "{}", Stats(), 30)

    await prime(target, "hb", once)
    rss_idle = rss_bytes(target.pid)
    prefix = "bare" if target.bare else f"hb{target.workers}"
    idents = [f"{prefix}-{i}" for i in range(plan.stations)]
    stations, notes = await connect_and_boot(target, idents)
    rss_connected = rss_bytes(target.pid)
    try:
        _, stats, cpu = await paced_phases(target, stations, heartbeat_job, plan.rate, plan)
        rss_end = rss_bytes(target.pid)
    finally:
        await client.close_stations(stations)
    summary = stats.summary()
    return row(
        name,
        target,
        len(stations),
        summary,
        messages=stats.answered,
        cpu=cpu,
        rss_idle=rss_idle,
        rss_connected=rss_connected,
        rss_end=rss_end,
        notes=[f"offered {plan.rate:g}/s", *notes, *failure_notes(summary)],
        offered_rate=plan.rate,
    )


async def baseline_ocpp_lib(target: Target, plan: Plan) -> dict:
    return await heartbeat(target, plan, name="baseline_ocpp_lib")


# --- 3. meter_values -----------------------------------------------------------------------------


async def start_transaction(target: Target, station: Station, stats: Stats) -> bool:
    answer = await station.call(
        *client.start_transaction_payload(target.version, station), stats, 30
    )
    if not answer:
        return False
    if target.version == "1.6":
        station.state["transaction_id"] = answer[2]["transactionId"]
    return True


async def baseline_orm_per_sample(target: Target, plan: Plan) -> dict:
    """The meter values scenario against the hand-written `ocpp` server storing each sample with its
    own ORM insert: what the CSMS's batched path is compared with."""
    result = await meter_values(target, plan)
    result["scenario"] = "baseline_orm_per_sample"
    return result


async def meter_values(target: Target, plan: Plan) -> dict:
    """30 % of the stations charge and send 10 sampled values per message at half the rate."""
    assert target.db is not None

    def meter_job(station: Station) -> tuple[str, str]:
        return client.meter_payload(target.version, station)

    async def once(station: Station) -> None:
        if await start_transaction(target, station, Stats()):
            await station.call(*meter_job(station), Stats(), 30)

    tag = "orm" if target.bare else "mv"  # the baseline shares the database: its own stations
    await prime(target, tag, once)
    rss_idle = rss_bytes(target.pid)
    prefix = f"{tag}{target.workers}-"
    idents = [f"{prefix}{i}" for i in range(plan.stations)]
    stations, notes = await connect_and_boot(target, idents)
    rss_connected = rss_bytes(target.pid)
    charging_count = max(1, round(plan.charging_share * len(stations)))
    starts = Stats()
    started = await asyncio.gather(
        *(start_transaction(target, s, starts) for s in stations[:charging_count])
    )
    charging = [s for s, ok in zip(stations[:charging_count], started, strict=True) if ok]
    rate = plan.rate / 2
    try:
        warm, stats, cpu = await paced_phases(target, charging, meter_job, rate, plan)
        rss_end = rss_bytes(target.pid)
    finally:
        await client.close_stations(stations)
    # Every meter message sent (warm-up included; an unanswered one may still have been stored).
    sent = warm.sent + stats.sent
    answered = warm.answered + stats.answered
    expected = sent * client.SAMPLES_PER_MESSAGE
    stored = await asyncio.to_thread(target.db.meter_samples, prefix)
    if stored == expected:
        check = f"samples stored {stored} = sentx10 OK"
    else:
        check = f"samples stored {stored} ≠ sentx10 = {expected} (answeredx10 = {answered * 10})"
    summary = stats.summary()
    return row(
        "meter_values",
        target,
        len(stations),
        summary,
        messages=stats.answered,
        cpu=cpu,
        rss_idle=rss_idle,
        rss_connected=rss_connected,
        rss_end=rss_end,
        notes=[
            f"{len(charging)} charging, offered {rate:g}/s",
            check,
            *notes,
            f"{charging_count - len(charging)} starts failed"
            if len(charging) < charging_count
            else "",
            *failure_notes(summary),
        ],
        offered_rate=rate,
        charging_stations=len(charging),
        meter_messages_sent=sent,
        meter_messages_answered=answered,
        samples_expected=expected,
        samples_stored=stored,
        samples_ok=stored == expected,
    )


# --- 4. boot_storm -------------------------------------------------------------------------------


async def boot_storm(target: Target, plan: Plan) -> dict:
    """Every station connects and boots at once: handshake, BootNotification, 2 StatusNotification.

    The stations are known to the CSMS and authenticate with a password (security profile 1), as
    after an outage or a restart of the CSMS, which is when a whole fleet reconnects at once."""

    async def statuses_once(station: Station) -> None:
        await station.call(
            "StatusNotification", client.status_payload(target.version, 1), Stats(), 30
        )

    db = target.db
    assert db is not None  # the CSMS, with its database (never the bare baseline)
    await prime(target, "boot", statuses_once)
    rss_idle = rss_bytes(target.pid)
    n = plan.boot_storm_stations
    prefix = f"boot{target.workers}-"
    idents = [f"{prefix}{i}" for i in range(n)]
    await asyncio.to_thread(db.register_stations, prefix, n, STORM_PASSWORD)
    boots, statuses = Stats(), Stats()
    connect_times: list[float] = []
    accepted_at: list[float] = []
    failed_handshakes = 0
    stations: list[Station] = []

    async def one(ident: str) -> None:
        nonlocal failed_handshakes
        begun = time.perf_counter()
        try:
            station = await client.open_station(
                target.station_url(ident),
                ident,
                target.subprotocol,
                open_timeout=60,
                password=STORM_PASSWORD,
            )
        except Exception:
            failed_handshakes += 1
            return
        stations.append(station)
        connect_times.append(time.perf_counter() - begun)
        answer = await station.call(
            "BootNotification", client.boot_payload(target.version), boots, 60
        )
        if not answer or not _accepted(answer):
            return
        accepted_at.append(time.perf_counter())
        for connector in (1, 2):
            await station.call(
                "StatusNotification", client.status_payload(target.version, connector), statuses, 60
            )

    began = 0.0

    async def storm() -> None:
        nonlocal began
        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in idents))

    try:
        cpu = await measured(target, storm)
        rss_connected = rss_end = rss_bytes(target.pid)
        booted_rows = await asyncio.to_thread(
            db.stations, prefix, "connected AND boot_status = 'Accepted'"
        )
        connector_rows = await asyncio.to_thread(
            db.count,
            "SELECT COUNT(*) FROM stations_connector WHERE station_id LIKE "
            f"{db.mark} AND status = 'Available'",
            (prefix + "%",),
        )
    finally:
        await client.close_stations(stations)
    stored = booted_rows == len(accepted_at) and connector_rows == statuses.answered
    all_accepted = (max(accepted_at) - began) if accepted_at else float("nan")
    summary = boots.summary()
    messages = boots.answered + statuses.answered
    summary["msg_per_s"] = messages / all_accepted if accepted_at else 0.0
    summary["errors"] = (
        boots.errors + statuses.errors + failed_handshakes + (boots.answered - len(accepted_at))
    )
    ordered = sorted(connect_times)
    return row(
        "boot_storm",
        target,
        n,
        summary,
        messages=messages,
        cpu=cpu,
        rss_idle=rss_idle,
        rss_connected=rss_connected,
        rss_end=rss_end,
        notes=[
            f"{len(accepted_at)}/{n} Accepted in {all_accepted:.2f} s",
            f"handshake p50/p99 {client.percentile(ordered, 50) * 1e3:.0f}/"
            f"{client.percentile(ordered, 99) * 1e3:.0f} ms",
            f"{failed_handshakes} handshakes failed" if failed_handshakes else "",
            "registered stations, Basic auth",
            f"db {'OK' if stored else 'CHECK FAILED'}: {booted_rows} connected and Accepted,"
            f" {connector_rows} connector statuses",
            "latency = BootNotification; CPU/msg includes handshakes",
            *failure_notes(statuses.summary()),
        ],
        accepted=len(accepted_at),
        time_all_accepted_s=all_accepted,
        failed_handshakes=failed_handshakes,
        handshake_p50_ms=client.percentile(ordered, 50) * 1e3,
        handshake_p99_ms=client.percentile(ordered, 99) * 1e3,
        status_notifications=statuses.summary(),
    )


STORM_PASSWORD = "bench-storm-key-0123"  # 20 characters: valid for 1.6 and 2.0.1


# --- 5. command_rtt ------------------------------------------------------------------------------


async def command_rtt(target: Target, plan: Plan) -> dict:
    """REST `POST /api/stations/<id>/commands/ClearCache/` at a fixed rate; stations answer
    Accepted. Latency is the HTTP round trip (API -> channel layer -> socket -> station and back)."""
    await prime(target, "cmd")
    rss_idle = rss_bytes(target.pid)
    idents = [f"cmd{target.workers}-{i}" for i in range(plan.command_stations)]
    stations, notes = await connect_and_boot(target, idents)
    rss_connected = rss_bytes(target.pid)
    http = client.HttpClient(target.port, target.token)
    statuses: Counter = Counter()

    async def send_commands(seconds: float, stats: Stats, offset: int) -> None:
        async def one(station: Station) -> None:
            path = f"/api/stations/{station.ident}/commands/ClearCache/"
            stats.sent += 1
            status, elapsed, body = await http.post(path)
            statuses[status] += 1
            if status == 200 and orjson.loads(body).get("status") == "Accepted":
                stats.latencies.append(elapsed)
            else:
                stats.call_errors += 1
                reason = f"HTTP {status}" if status else f"HTTP client {body.decode()[:60]!r}"
                stats.error_codes[reason] += 1

        total = int(plan.command_rate * seconds)
        tasks = []
        start = time.perf_counter()
        stats.first_send = start
        for i in range(total):
            delay = start + i / plan.command_rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(stations[(offset + i) % len(stations)])))
        await asyncio.gather(*tasks)
        stats.last_answer = time.perf_counter()

    try:
        await send_commands(plan.warmup, Stats(), offset=len(stations) // 2)
        statuses.clear()
        received_before = sum(s.calls_received for s in stations)
        stats = Stats()
        cpu = await measured(target, lambda: send_commands(plan.duration, stats, offset=0))
        rss_end = rss_bytes(target.pid)
    finally:
        http.close()
        await client.close_stations(stations)
    summary = stats.summary()
    received = sum(s.calls_received for s in stations) - received_before
    return row(
        "command_rtt",
        target,
        len(stations),
        summary,
        messages=stats.answered,
        cpu=cpu,
        rss_idle=rss_idle,
        rss_connected=rss_connected,
        rss_end=rss_end,
        notes=[
            f"offered {plan.command_rate:g} commands/s; latency = HTTP round trip",
            f"CPU per command (HTTP + CALL + answer + record); stations got {received} CALLs",
            *notes,
            *failure_notes(summary),
        ],
        offered_rate=plan.command_rate,
        http_statuses={str(k): v for k, v in statuses.items()},
        calls_received_by_stations=received,
    )


# The registry of every scenario, the ones of the other modules included: bench/registry.py.
SCENARIOS: dict[str, Callable[[Target, Plan], Awaitable[dict]]] = {
    "echo": echo,
    "heartbeat": heartbeat,
    "meter_values": meter_values,
    "boot_storm": boot_storm,
    "command_rtt": command_rtt,
}
