"""A fleet at its own pace: N stations each sending one message per interval, the CSMS and the
bare `ocpp` library server measured in the same run, latency reported over time.

    .venv/bin/python -m bench.fleet [--stations 1000] [--interval 1] [--ramp 20] [--duration 40]
                                    [--db sqlite|postgres] [--workers 1] [--window 5]
                                    [--samples 4] [--password] [--group-commit 1|0] [--out FILE]

Each station connects (the fleet ramps up over `--ramp` seconds), sends BootNotification and a
StatusNotification, starts a transaction (1.6 StartTransaction, 2.0.1 TransactionEvent Started),
then every `--interval` seconds (each station at its own phase) one meter reading: 1.6 MeterValues
or 2.0.1 TransactionEvent Updated with `--samples` sampled values (4: energy, power, current,
voltage, a common MeterValuesSampledData). Half the stations speak each version. The load is
closed per station (one CALL at a time, the OCPP rule) and open across the fleet: a slow answer
delays only its own station's next reading.

Reported per `--window` seconds and over the steady state (after the ramp): stations connected,
messages answered, p50/p95/p99/max, errors; and the server's CPU per message (its own
utime + stime, so the load client sharing the machine is not counted). The bare server
(bench/bare_csms.py, in memory, schema validation on) gets the same fleet right after, so both
columns come from one run on one machine. `--group-commit 0` runs the CSMS with a transaction a
message, for the before/after comparison of docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import client
from bench.client import SUBPROTOCOLS, Stats, percentile
from bench.server import (
    DATABASES,
    ROOT,
    BareServer,
    CsmsServer,
    LoopbackServer,
    cpu_seconds,
    rss_bytes,
)

PASSWORD = "fleet-bench-password-1"
# Settings of the CSMS a run may set from its own environment.
PASSED_THROUGH = (
    "OCPP_DB_BATCH_WINDOW_MS",
    "OCPP_DB_BATCH_MAX",
    "OCPP_DB_WRITE_LANES",
    "OCPP_DB_READERS",
    "OCPP_MESSAGE_LOG",
    "GC_THRESHOLDS",
)
PREFIX = "FLEET"


@dataclass(frozen=True)
class Load:
    stations: int
    interval: float
    ramp: float
    duration: float
    window: float
    samples: int
    password: bool


@dataclass
class Window:
    start: float
    stations: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def row(self) -> dict:
        ordered = sorted(self.latencies)
        return {
            "t": round(self.start),
            "stations": self.stations,
            "answered": len(ordered),
            "errors": self.errors,
            **{f"p{q}_ms": round(percentile(ordered, q) * 1000, 1) for q in (50, 95, 99)},
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
        }


class Timeline:
    """Every answered reading, in the window of the moment it was sent."""

    def __init__(self, load: Load):
        self.load = load
        self.began = time.perf_counter()
        self.windows: list[Window] = []
        self.connected = 0
        self.failed_connects = 0

    def window(self, at: float) -> Window:
        index = int((at - self.began) / self.load.window)
        while len(self.windows) <= index:
            self.windows.append(Window(len(self.windows) * self.load.window))
        return self.windows[index]

    def answered(self, sent: float, latency: float | None) -> None:
        window = self.window(sent)
        window.stations = max(window.stations, self.connected)
        if latency is None:
            window.errors += 1
        else:
            window.latencies.append(latency)

    def steady(self) -> Window:
        """The windows after the ramp, as one."""
        whole = Window(self.load.ramp)
        for window in self.windows:
            if (
                window.start >= self.load.ramp
                and window.start < self.load.ramp + self.load.duration
            ):
                whole.latencies += window.latencies
                whole.errors += window.errors
                whole.stations = max(whole.stations, window.stations)
        return whole


async def run_station(
    url: str, index: int, load: Load, timeline: Timeline, stop_at: float, stats: Stats
) -> None:
    ident = f"{PREFIX}{index}"
    version = "1.6" if index % 2 else "2.0.1"
    await asyncio.sleep(index * load.ramp / load.stations)  # the ramp
    try:
        station = await client.open_station(
            f"{url}/ocpp/{ident}",
            ident,
            SUBPROTOCOLS[version],
            password=PASSWORD if load.password else "",
        )
    except Exception:
        timeline.failed_connects += 1
        return
    timeline.connected += 1
    try:
        await station.call("BootNotification", client.boot_payload(version), stats, 30)
        await station.call("StatusNotification", client.status_payload(version, 1), stats, 30)
        action, payload = client.start_transaction_payload(version, station)
        started = await station.call(action, payload, stats, 30)
        # 1.6 readings name the transaction (an unanswered start: a number the CSMS reports).
        station.state["transaction_id"] = started[2].get("transactionId", 1) if started else 1
        # Each station reads its meter at its own phase within the interval.
        due = time.perf_counter() + (index * 0.618034 % 1.0) * load.interval
        while True:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if due >= stop_at:
                break
            action, payload = client.meter_payload(version, station, samples=load.samples)
            sent = time.perf_counter()
            answer = await station.call(action, payload, stats, 30)
            timeline.answered(sent, time.perf_counter() - sent if answer else None)
            due += load.interval
    finally:
        await station.close()


async def drive(url: str, load: Load, server_pid: int) -> dict:
    timeline = Timeline(load)
    stats = Stats()
    stop_at = timeline.began + load.ramp + load.duration
    steady_from = timeline.began + load.ramp
    cpu: dict[str, float] = {}

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, steady_from - time.perf_counter()))
        cpu["start"] = cpu_seconds(server_pid)
        cpu["rss_mb"] = rss_bytes(server_pid) / 2**20
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        cpu["end"] = cpu_seconds(server_pid)

    sampler = asyncio.create_task(sample_cpu())
    await asyncio.gather(
        *(run_station(url, i, load, timeline, stop_at, stats) for i in range(load.stations))
    )
    await sampler
    steady = timeline.steady()
    result = steady.row()
    messages = len(steady.latencies) + steady.errors
    result["cpu_us_per_msg"] = (
        round((cpu["end"] - cpu["start"]) / messages * 1e6) if messages else None
    )
    result["rss_mb"] = round(cpu["rss_mb"], 1)
    result["failed_connects"] = timeline.failed_connects
    result["error_codes"] = dict(stats.error_codes)
    result["windows"] = [w.row() for w in timeline.windows]
    return result


def measure(server: LoopbackServer, load: Load, profile: Path | None = None) -> dict:
    """Start the server, drive the fleet against it, stop it. `profile`: py-spy samples the
    server meanwhile (bench/profile.py's recorder and report, written next to that path)."""
    server.start()
    profiler = None
    try:
        if profile is not None:
            from bench.profile import Profiler

            profiler = Profiler(profile, "raw", 100, nonblocking=True, native=False)
            profiler.start(server)
        return asyncio.run(drive(server.ws_url, load, server.pid))
    finally:
        if profiler is not None:
            profiler.stop()
        server.stop()
        if profile is not None and profile.exists():
            from bench.profile import top_report

            report = profile.with_name(profile.stem + "-top.txt")
            report.write_text(top_report(profile.read_text(), f"bench.fleet: {server.ws_url}"))
            print(f"Profile: {profile}, {report}")


def table(label: str, csms: dict, bare: dict | None) -> str:
    """The run as Markdown: a row per window, then the steady state (the bare server's columns
    only when it ran)."""
    head = "| t (s) | stations | CSMS msgs | CSMS p50 | p95 | p99 | max | err "
    rule = "|---|---|---|---|---|---|---|---|"
    if bare is not None:
        head += "| bare msgs | bare p50 | p95 | p99 | max | err "
        rule += "---|---|---|---|---|---|"
    lines = [label, "", head + "|", rule]

    def cells(row: dict) -> str:
        return (
            f"{row['answered']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} "
            f"| {row['max_ms']} | {row['errors']}"
        )

    theirs_by_window = bare["windows"] if bare is not None else []
    for index, ours in enumerate(csms["windows"]):
        row = f"| {ours['t']} | {ours['stations']} | {cells(ours)} |"
        if index < len(theirs_by_window):
            row += f" {cells(theirs_by_window[index])} |"
        lines.append(row)
    lines += [
        "",
        "steady state (after the ramp):",
        f"  CSMS: {csms['answered']} answered, p50 {csms['p50_ms']} ms, p95 {csms['p95_ms']} ms, "
        f"p99 {csms['p99_ms']} ms, max {csms['max_ms']} ms, {csms['errors']} errors, "
        f"{csms['cpu_us_per_msg']} µs CPU/msg, RSS {csms['rss_mb']} MB",
    ]
    if bare is None:
        return "\n".join(lines)
    lines += [
        f"  bare: {bare['answered']} answered, p50 {bare['p50_ms']} ms, p95 {bare['p95_ms']} ms, "
        f"p99 {bare['p99_ms']} ms, max {bare['max_ms']} ms, {bare['errors']} errors, "
        f"{bare['cpu_us_per_msg']} µs CPU/msg, RSS {bare['rss_mb']} MB",
    ]
    if bare["p99_ms"] and csms["p99_ms"]:
        lines.append(f"  p99 CSMS / bare: {csms['p99_ms'] / bare['p99_ms']:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fleet", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between readings")
    parser.add_argument("--ramp", type=float, default=20.0, help="seconds to connect the fleet")
    parser.add_argument("--duration", type=float, default=40.0, help="steady-state seconds")
    parser.add_argument("--window", type=float, default=5.0, help="seconds per reported window")
    parser.add_argument(
        "--samples", type=int, default=4, choices=range(1, client.SAMPLES_PER_MESSAGE + 1)
    )
    parser.add_argument("--db", choices=sorted(DATABASES), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--password", action="store_true", help="registered stations, Basic auth")
    parser.add_argument("--group-commit", type=int, choices=(0, 1), default=1)
    parser.add_argument("--no-bare", action="store_true", help="skip the bare server")
    parser.add_argument("--profile", type=Path, help="py-spy the CSMS into this file (raw)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fleet.json")
    args = parser.parse_args(argv)
    load = Load(
        args.stations, args.interval, args.ramp, args.duration, args.window, args.samples,
        args.password,
    )  # fmt: skip
    from bench.run import raise_fd_limit

    raise_fd_limit()  # thousands of client sockets
    log_dir = ROOT / "bench" / "results"
    log_dir.mkdir(parents=True, exist_ok=True)
    db = DATABASES[args.db]()
    db.setup()
    try:
        if args.password:
            db.register_stations(PREFIX, args.stations, PASSWORD)
        server = CsmsServer(db.url, args.workers, log_dir / "fleet-csms.log")
        server.env["OCPP_DB_GROUP_COMMIT"] = str(args.group_commit)
        for name in PASSED_THROUGH:  # a setting to try: `OCPP_DB_BATCH_WINDOW_MS=0 python -m ...`
            if name in os.environ:
                server.env[name] = os.environ[name]
        csms = measure(server, load, args.profile)
    finally:
        db.teardown()
    bare = None if args.no_bare else measure(BareServer(log_dir / "fleet-bare.log"), load)
    label = (
        f"fleet: {args.stations} stations x 1 msg/{args.interval:g} s, mixed 1.6/2.0.1, "
        f"{args.samples} samples, {args.db}, {args.workers} worker(s), "
        f"group commit {'on' if args.group_commit else 'off'}"
    )
    print(table(label, csms, bare), flush=True)
    args.out.write_text(
        json.dumps(
            {
                "load": asdict(load),
                "args": vars(args) | {"out": str(args.out)},
                "csms": csms,
                "bare": bare,
            },
            indent=1,
            default=str,
        )
    )
    print(f"Written: {args.out}")
    return 1 if csms["errors"] or csms["failed_connects"] else 0


if __name__ == "__main__":
    sys.exit(main())
