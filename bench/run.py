"""Load benchmarks of the CSMS, on the loopback, in one command.

    .venv/bin/python -m bench.run [--quick] [--scenarios a,b] [--db sqlite,postgres] [--workers 1,2]
                                  [--ocpp 2.0.1|1.6] [--idle-stations N] [--out FILE.json]

For each database and worker count it creates a fresh database (SQLite: a temporary file; PostgreSQL:
`csms_bench` on 127.0.0.1:5432, dropped at the end), and for each scenario starts the CSMS under
uvicorn on a free loopback port (one process with the in-memory channel layer, or `--workers 2` with
Redis database 11), drives it with the lean client of bench/client.py, stops it, and prints one row.
`baseline_ocpp_lib` runs the heartbeat scenario once against bench/bare_csms.py. At the end: the
table, the CPU ratios to the echo floor, and a JSON file with every number.

Scenarios (bench/registry.py): echo, heartbeat, meter_values, boot_storm, command_rtt (steady state,
bench/scenarios.py); idle_capacity (bench/capacity.py); knee_heartbeat, knee_meter_values_16,
knee_transaction_event_201 (bench/knee.py); offline_backlog_16, offline_backlog_201
(bench/backlog.py); baseline_ocpp_lib. Profile one of them with bench/profile.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench import registry
from bench.registry import BASELINE, BASELINE_ORM, SCENARIOS, TIMEOUTS
from bench.scenarios import FULL, QUICK, Plan, Target
from bench.server import (
    DATABASES,
    ROOT,
    STOP_WAIT_SECONDS,
    BareServer,
    CsmsServer,
    LoopbackServer,
    Process,
    process_tree,
)

SCENARIO_TIMEOUT = 240.0  # seconds: a stuck scenario fails, the run goes on
DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller and shorter (2 to 3 minutes): SQLite, 1 worker",
    )
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated subset of: {', '.join([*SCENARIOS, BASELINE, BASELINE_ORM])}"
        " (default: all)",
    )
    parser.add_argument(
        "--db", help="comma-separated: sqlite, postgres (default: both; --quick: sqlite)"
    )
    parser.add_argument(
        "--workers", help="comma-separated uvicorn worker counts (default: 1,2; --quick: 1)"
    )
    parser.add_argument(
        "--ocpp",
        choices=["2.0.1", "1.6"],
        default="2.0.1",
        help="station version (the *_16 and *_201 scenarios use their own)",
    )
    parser.add_argument(
        "--idle-stations",
        type=int,
        help="idle_capacity: stations connected at once (default 10000; --quick: 500)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args(argv)
    names = [*SCENARIOS, BASELINE, BASELINE_ORM]
    args.scenario_list = _split(args.scenarios) or names
    unknown = set(args.scenario_list) - set(names)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.db_list = _split(args.db) or (["sqlite"] if args.quick else ["sqlite", "postgres"])
    if set(args.db_list) - set(DATABASES):
        parser.error("--db takes sqlite and/or postgres")
    try:
        args.worker_list = [int(w) for w in _split(args.workers)] or ([1] if args.quick else [1, 2])
    except ValueError:
        parser.error("--workers takes integers, e.g. 1,2")
    return args


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def run_async(coroutine, timeout: float = SCENARIO_TIMEOUT):
    """Run the client on uvloop when it is installed (as uvicorn runs the server)."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(asyncio.wait_for(coroutine, timeout))


def server_problems(log_path: Path) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return ""
    errors = sum(1 for line in text.splitlines() if " ERROR " in line or "Traceback" in line)
    return f"server logged {errors} errors ({log_path.name})" if errors else ""


def failed_row(name: str, db: str, workers: int, version: str, exc: BaseException) -> dict:
    return {
        "scenario": name,
        "db": db,
        "workers": workers,
        "ocpp": version,
        "failed": True,
        "notes": f"FAILED: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
        if str(exc).strip()
        else f"FAILED: {type(exc).__name__}",
    }


def run_scenario(
    name: str,
    server: LoopbackServer,
    target: Target,
    plan: Plan,
    log_path: Path,
    started: Callable[[Process], None] | None = None,
    stopping: Callable[[], None] | None = None,
) -> dict:
    """Start the server, run one scenario against it, stop it. `started` runs once the server is
    up (bench/profile.py attaches its profiler there) and `stopping` after the scenario."""
    try:
        server.start()
        target.pid = server.pid
        target.ws_url = server.ws_url
        target.port = server.port
        if started is not None:
            started(server)
        processes = set(process_tree(server.pid))
        function = registry.function(name)
        result = run_async(function(target, plan), TIMEOUTS.get(name, SCENARIO_TIMEOUT))
        if not server.alive():
            result["notes"] += "; the server died during the run"
        elif set(process_tree(server.pid)) != processes:
            # uvicorn's supervisor replaces a worker that died or missed its health check (5 s).
            result["notes"] += "; WORKER REPLACED during the run: a worker died or was killed"
            result["workers_replaced"] = True
    except (Exception, TimeoutError) as exc:
        traceback.print_exc(file=sys.stderr)
        result = failed_row(name, target.db_name, target.workers, target.version, exc)
    finally:
        if stopping is not None:
            stopping()
        server.stop()
    if server.killed:
        result["notes"] += (
            f"; SIGTERM did not stop the server within {STOP_WAIT_SECONDS:g} s: killed"
        )
    problems = server_problems(log_path)
    if problems:
        result["notes"] = "; ".join(n for n in (result.get("notes"), problems) if n)
    return result


# --- Output --------------------------------------------------------------------------------------

COLUMNS = [
    ("scenario", "scenario", "{}"),
    ("db", "db", "{}"),
    ("workers", "w", "{}"),
    ("ocpp", "ocpp", "{}"),
    ("stations", "stations", "{}"),
    ("msgs", "msgs", "{}"),
    ("msg_per_s", "msg/s", "{:.0f}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p95_ms", "p95 ms", "{:.1f}"),
    ("p99_ms", "p99 ms", "{:.1f}"),
    ("max_ms", "max ms", "{:.1f}"),
    ("errors", "err", "{}"),
    ("cpu_us_per_msg", "CPU µs/msg", "{:.0f}"),
    ("rss_mb", "RSS MB", "{:.0f}"),
    ("rss_per_conn_kb", "RSS/conn kB", "{:.1f}"),
    ("notes", "notes", "{}"),
]


def _cell(row: dict, key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def table(rows: list[dict]) -> str:
    cells = [[title for _, title, _ in COLUMNS]]
    cells += [[_cell(row, key, fmt) for key, _, fmt in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS) - 1)]
    lines = []
    for n, line in enumerate(cells):
        text = " | ".join(
            cell.ljust(widths[i]) if i < 4 else cell.rjust(widths[i])
            for i, cell in enumerate(line[:-1])
        )
        lines.append(f"| {text} | {line[-1]} |")
        if n == 0:
            lines.append(
                "|"
                + "|".join("-" * (w + 2) for w in widths)
                + "|"
                + "-" * (len(line[-1]) + 2)
                + "|"
            )
    return "\n".join(lines)


def ratios(rows: list[dict]) -> list[dict]:
    """CPU per message of heartbeat and meter_values over the echo floor, per configuration."""
    found = []
    by_config: dict[tuple, dict[str, dict]] = {}
    for row in rows:
        if not row.get("failed") and row["scenario"] in ("echo", "heartbeat", "meter_values"):
            by_config.setdefault((row["db"], row["workers"]), {})[row["scenario"]] = row
    for (db, workers), found_rows in by_config.items():
        echo = found_rows.get("echo", {}).get("cpu_us_per_msg")
        if not echo or math.isnan(echo):
            continue
        entry = {"db": db, "workers": workers, "echo_cpu_us_per_msg": echo}
        for name in ("heartbeat", "meter_values"):
            value = found_rows.get(name, {}).get("cpu_us_per_msg")
            if value and not math.isnan(value):
                entry[f"{name}_over_echo"] = value / echo
        found.append(entry)
    return found


def baseline_comparison(rows: list[dict]) -> list[str]:
    lines = []
    base = next((r for r in rows if r["scenario"] == BASELINE and not r.get("failed")), None)
    if base:
        lines.append(
            f"baseline_ocpp_lib (ocpp library on websockets): {base['cpu_us_per_msg']:.0f} µs/msg"
        )
        for row in rows:
            if row["scenario"] == "heartbeat" and not row.get("failed"):
                lines.append(
                    f"  CSMS heartbeat {row['db']} {row['workers']}w: "
                    f"{row['cpu_us_per_msg']:.0f} µs/msg"
                    f" = {row['cpu_us_per_msg'] / base['cpu_us_per_msg']:.2f}x the baseline"
                )
    for orm in rows:
        if orm["scenario"] != BASELINE_ORM or orm.get("failed"):
            continue
        lines.append(
            f"{BASELINE_ORM} {orm['db']} (ocpp library, one ORM insert per sample): "
            f"{orm['cpu_us_per_msg']:.0f} µs/msg"
        )
        for row in rows:
            if (
                row["scenario"] == "meter_values"
                and row["db"] == orm["db"]
                and not row.get("failed")
            ):
                lines.append(
                    f"  CSMS meter_values {row['db']} {row['workers']}w: "
                    f"{row['cpu_us_per_msg']:.0f} µs/msg, "
                    f"{orm['cpu_us_per_msg'] / row['cpu_us_per_msg']:.1f}x cheaper"
                )
    return lines


def _clean(value):
    """JSON without NaN: null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def report(rows: list[dict], args: argparse.Namespace, plan: Plan, began: float) -> None:
    print()
    print(table(rows))
    found = ratios(rows)
    if found:
        print("\nCPU per message over the echo floor (the budgets' ratios):")
        for r in found:
            parts = [f"echo {r['echo_cpu_us_per_msg']:.0f} µs"]
            for name in ("heartbeat", "meter_values"):
                if f"{name}_over_echo" in r:
                    parts.append(f"{name}/echo = {r[f'{name}_over_echo']:.2f}x")
            print(f"  {r['db']} {r['workers']}w: " + ", ".join(parts))
    comparison = baseline_comparison(rows)
    if comparison:
        print()
        print("\n".join(comparison))
    document = {
        "started_at": datetime.fromtimestamp(began, UTC).isoformat(),
        "seconds": round(time.time() - began, 1),
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": args.quick,
        "ocpp": args.ocpp,
        "plan": plan.__dict__,
        "rows": rows,
        "ratios": found,
        "baseline": comparison,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_clean(document), indent=2, ensure_ascii=False) + "\n")
    print(f"\nWritten: {args.out} ({document['seconds']} s)")


# --- Main ----------------------------------------------------------------------------------------


def _terminate(signum, frame):
    raise KeyboardInterrupt


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.idle_stations:
        plan = replace(plan, idle_stations=args.idle_stations)
    # Ctrl-C and SIGTERM end the run through the `finally` blocks (servers stopped, database
    # dropped), also when started in the background, where SIGINT is inherited ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    raise_fd_limit()  # the servers inherit it
    log_dir = args.out.parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    began = time.time()
    rows: list[dict] = []
    csms_scenarios = [s for s in args.scenario_list if s in SCENARIOS]

    def done(row: dict) -> None:
        rows.append(row)
        cpu = row.get("cpu_us_per_msg")
        summary = f"{cpu:.0f} µs/msg, p99 {row.get('p99_ms', float('nan')):.1f} ms" if cpu else ""
        print(
            f"[{time.time() - began:5.1f}s] {row['scenario']} {row['db']} {row['workers']}w"
            f" {summary} {row.get('notes', '')}",
            flush=True,
        )

    interrupted = False
    try:
        orm_baseline = BASELINE_ORM in args.scenario_list
        for db_name in args.db_list if csms_scenarios or orm_baseline else []:
            db = DATABASES[db_name]()
            try:
                print(f"[{time.time() - began:5.1f}s] preparing {db_name}", flush=True)
                db.setup()
                token = db.staff_token() if "command_rtt" in csms_scenarios else ""
                for workers in args.worker_list:
                    for name in csms_scenarios:
                        log_path = log_dir / f"{db_name}-{workers}w-{name}.log"
                        log_path.unlink(missing_ok=True)
                        server: LoopbackServer = CsmsServer(db.url, workers, log_path)
                        target = Target(0, "", 0, db, workers, args.ocpp, token)
                        done(run_scenario(name, server, target, plan, log_path))
                if orm_baseline:
                    log_path = log_dir / f"{db_name}-{BASELINE_ORM}.log"
                    log_path.unlink(missing_ok=True)
                    target = Target(0, "", 0, db, 1, args.ocpp, bare=True)
                    server = BareServer(log_path, db.url)
                    done(run_scenario(BASELINE_ORM, server, target, plan, log_path))
            finally:
                db.teardown()
        if BASELINE in args.scenario_list:
            log_path = log_dir / f"{BASELINE}.log"
            log_path.unlink(missing_ok=True)
            target = Target(0, "", 0, None, 1, args.ocpp, bare=True)
            done(run_scenario(BASELINE, BareServer(log_path), target, plan, log_path))
    except KeyboardInterrupt:
        interrupted = True
        print("\nInterrupted: servers stopped, benchmark database dropped.", file=sys.stderr)
    finally:
        report(rows, args, plan, began)
    return 130 if interrupted else (1 if any(r.get("failed") for r in rows) else 0)


if __name__ == "__main__":
    sys.exit(main())
