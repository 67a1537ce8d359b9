"""Profile the server during one benchmark scenario with py-spy, from outside the process.

    .venv/bin/python -m bench.profile meter_values [--db sqlite|postgres] [--workers 1] [--quick]
                     [--ocpp 2.0.1|1.6] [--format raw|speedscope|flamegraph] [--rate 200]
                     [--nonblocking] [--native] [--idle-stations N]

The server starts as in bench.run (fresh database, uvicorn, the same settings); once it is up,
`py-spy record --pid <server> --subprocesses` samples it (uvicorn's workers included) until the
scenario ends. Idle threads are not sampled, so the profile is where the server's CPU went. It
writes to bench/results/:

- `profile-<scenario>-<db>-<w>w.txt` (default `--format raw`): collapsed stacks, one per line;
  open it in https://www.speedscope.app or feed it to flamegraph.pl;
- `profile-<scenario>-<db>-<w>w-top.txt`: a text report from those stacks: the functions with the
  most samples on-CPU themselves (self) and below them (total), and self time per package;
- or `profile-...speedscope.json` / `profile-...svg` with `--format speedscope|flamegraph`
  (no text report then).

py-spy is a binary in the venv (the `bench` extra in pyproject.toml, which `make install` installs
from requirements/dev.txt); it reads the server's memory, which needs ptrace rights over it (root,
or a child of your own user with kernel.yama.ptrace_scope ≤ 1, or CAP_SYS_PTRACE in a container). By
default it pauses the server for each sample, which makes the scenario's own figures in the printed
row pessimistic: profile to see where the time goes, measure with bench.run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from bench.registry import BASELINE, SCENARIOS
from bench.run import DEFAULT_OUT, raise_fd_limit, run_scenario, table
from bench.scenarios import FULL, QUICK, Target
from bench.server import DATABASES, ROOT, BareServer, CsmsServer, Process

RESULTS = DEFAULT_OUT.parent
EXTENSIONS = {"raw": ".txt", "speedscope": ".speedscope.json", "flamegraph": ".svg"}
TOP = 40
START_SECONDS = 1.0  # py-spy attaches and starts sampling within this


def py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not found:
        sys.exit("py-spy not found: `make install` (requirements/dev.txt has the bench extra)")
    return found


class Profiler:
    """py-spy recording a process tree; stopped with SIGINT, which makes it write its output."""

    def __init__(self, output: Path, fmt: str, rate: int, nonblocking: bool, native: bool):
        self.output = output
        self.fmt = fmt
        self.rate = rate
        self.options = ["--nonblocking"] * nonblocking + ["--native"] * native
        self.popen: subprocess.Popen | None = None
        self.log = output.with_suffix(".py-spy.log")

    def start(self, server: Process) -> None:
        command = [py_spy(), "record", "--pid", str(server.pid), "--subprocesses"]
        command += ["--rate", str(self.rate), "--format", self.fmt, "--full-filenames"]
        command += ["--output", str(self.output), *self.options]
        with open(self.log, "wb") as log:
            self.popen = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(START_SECONDS)
        if self.popen.poll() is not None:
            raise RuntimeError(f"py-spy exited: {self.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


# --- The text report -----------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _function(frame: str) -> str:
    """'handler (/x/stations/ocpp/v16.py:120)' -> 'handler (stations/ocpp/v16.py)'."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    return f"{match['function']} ({_short(match['file'])})"


def _short(path: str) -> str:
    """A path relative to site-packages, the standard library or the project."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    stdlib = re.search(r"/lib/python3\.\d+/(.*)$", path)
    if stdlib:
        return stdlib[1]
    return path.removeprefix(str(ROOT) + "/")


def _package(frame: str) -> str:
    """The top-level package or project directory of a frame: django, stations, asyncio, ..."""
    match = _FRAME.match(frame)
    if not match:
        return frame.split(" ", 1)[0]
    if ".so" in match["file"] or match["file"].endswith(".c"):
        return "native " + match["file"].rsplit("/", 1)[-1].split(".so", 1)[0]
    short = _short(match["file"])
    return short.split("/", 1)[0] if "/" in short else short.removesuffix(".py")


# Leaf frames where a thread waits rather than works. py-spy's own idle detection misses them in
# some VMs and containers (a thread in time.sleep or an idle pool thread sampled as active), so the
# report counts them apart. `Runner.run` is the event loop in C (uvloop): epoll waits, but also the
# loop's own socket I/O, which only `--native` tells apart.
WAITING = {
    "_worker (concurrent/futures/thread.py)",
    "Runner.run (asyncio/runners.py)",
    "Condition.wait (threading.py)",
    "Event.wait (threading.py)",
    "Thread.join (threading.py)",
    "BaseEventLoop._run_once (asyncio/base_events.py)",
    # uvicorn's health-check thread in each worker and multiprocessing's resource tracker.
    "Connection._recv (multiprocessing/connection.py)",
    "main (multiprocessing/resource_tracker.py)",
    # psycopg waiting for PostgreSQL's answer (PostgreSQL's CPU is in the bench.run notes).
    "Connection.wait (psycopg/connection.py)",
}
# With --native, C functions below which a thread blocks (the leaf is then an anonymous libc frame).
NATIVE_WAITS = {"PyThread_acquire_lock_timed", "take_gil", "epoll_wait", "epoll_pwait"}


def _waiting(frames: list[str]) -> str:
    """The wait a stack ends in, or ''."""
    leaf = _function(frames[-1])
    if leaf in WAITING:
        return leaf
    for frame in reversed(frames):
        name = frame.split(" (", 1)[0]
        if name in NATIVE_WAITS:
            return f"{name} (native)"
    return ""


def top_report(collapsed: str, title: str) -> str:
    """Self and total samples per function, and self samples per package, from collapsed stacks
    ('frame;frame;... count' per line, outermost frame first); waiting leaves counted apart."""
    own: Counter = Counter()
    total: Counter = Counter()
    packages: Counter = Counter()
    waiting: Counter = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if _FRAME.match(f)]
        if not frames:
            continue
        wait = _waiting(frames)
        if wait:
            waiting[wait] += n
            continue
        leaf = _function(frames[-1])
        samples += n
        own[leaf] += n
        packages[_package(frames[-1])] += n
        for name in {_function(f) for f in frames}:
            total[name] += n
    if not samples:
        return f"{title}\n\nNo samples: the server was idle or py-spy could not read it.\n"

    def listing(counter: Counter, limit: int) -> list[str]:
        return [
            f"{n / samples * 100:6.1f} %  {n:7d}  {name}" for name, n in counter.most_common(limit)
        ]

    return "\n".join(
        [
            title,
            f"{samples} samples in Python code (percentages below are of these)",
            f"{sum(waiting.values())} more samples with a waiting leaf, not counted:",
            *[f"           {n:7d}  {name}" for name, n in waiting.most_common()],
            "",
            "Self (in the function itself), by package:",
            *listing(packages, 25),
            "",
            f"Self, top {TOP} functions:",
            *listing(own, TOP),
            "",
            f"Total (the function or anything it called), top {TOP}:",
            *listing(total, TOP),
            "",
        ]
    )


# --- Main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("scenario", choices=[*SCENARIOS, BASELINE])
    parser.add_argument("--db", choices=list(DATABASES), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--ocpp", choices=["2.0.1", "1.6"], default="2.0.1")
    parser.add_argument("--quick", action="store_true", help="the --quick sizes of bench.run")
    parser.add_argument("--format", choices=list(EXTENSIONS), default="raw")
    parser.add_argument("--rate", type=int, default=200, help="samples per second (py-spy)")
    parser.add_argument("--nonblocking", action="store_true", help="do not pause the server")
    parser.add_argument("--native", action="store_true", help="C frames too (slower)")
    parser.add_argument("--idle-stations", type=int, help="idle_capacity: stations")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    py_spy()  # fail early
    raise_fd_limit()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    plan = QUICK if args.quick else FULL
    if args.idle_stations:
        plan = replace(plan, idle_stations=args.idle_stations)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "logs").mkdir(exist_ok=True)
    db_name = "-" if args.scenario == BASELINE else args.db
    stem = f"profile-{args.scenario}-{db_name.strip('-') or 'none'}-{args.workers}w"
    output = RESULTS / (stem + EXTENSIONS[args.format])
    log_path = RESULTS / "logs" / f"{stem}.log"
    log_path.unlink(missing_ok=True)
    profiler = Profiler(output, args.format, args.rate, args.nonblocking, args.native)
    if args.scenario == BASELINE:
        target = Target(0, "", 0, None, 1, args.ocpp, bare=True)
        result = run_scenario(
            BASELINE, BareServer(log_path), target, plan, log_path, profiler.start, profiler.stop
        )
    else:
        db = DATABASES[args.db]()
        try:
            db.setup()
            token = db.staff_token() if args.scenario == "command_rtt" else ""
            server = CsmsServer(db.url, args.workers, log_path)
            target = Target(0, "", 0, db, args.workers, args.ocpp, token)
            result = run_scenario(
                args.scenario, server, target, plan, log_path, profiler.start, profiler.stop
            )
        finally:
            db.teardown()
    print(table([result]))
    print("(figures under the profiler: slower than without it)")
    if not output.exists():
        print(f"py-spy wrote nothing; its log: {profiler.log}", file=sys.stderr)
        return 1
    print(f"\nProfile: {output}")
    if args.format == "raw":
        title = f"{args.scenario}, {db_name}, {args.workers} worker(s), OCPP {args.ocpp}"
        title += f" ({'--quick' if args.quick else 'full'} sizes), py-spy {args.rate} Hz"
        report = top_report(output.read_text(errors="replace"), title)
        top = output.with_name(stem + "-top.txt")
        top.write_text(report)
        print(f"Top functions: {top}\n")
        print("\n".join(report.splitlines()[:30]))
    return 1 if result.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
