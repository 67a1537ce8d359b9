"""The processes under test: the CSMS under uvicorn (or the bare `ocpp` library server), the
benchmark databases, and what the server processes cost, read from /proc.

CPU is the server's own accounting (utime + stime of the server process and all its descendants,
e.g. uvicorn's worker processes), so it is fair even though the load generator shares the machine's
cores: the client's CPU is never counted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "csms_bench"
REDIS_URL = "redis://127.0.0.1:6379/11"
# A graceful shutdown longer than this is cut short with SIGKILL (and reported in the row).
STOP_WAIT_SECONDS = 5.0

# The server's settings for every run (DATABASE_URL and REDIS_URL are added per configuration).
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "csms_site.settings",
    "SECRET_KEY": "bench",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    "OCPP_AUTO_REGISTER": "1",
    "OCPP_REQUIRE_PASSWORD": "0",
    "OCPP_ACCEPT_UNKNOWN_ID_TOKENS": "1",
    "OCPP_LOG_FRAMES": "0",
    "LOG_LEVEL": "WARNING",
    "OCPP_HEARTBEAT_INTERVAL": "3600",
    "PYTHONUNBUFFERED": "1",
}


def inherited_environment() -> dict[str, str]:
    """This process's environment for a server or `manage.py` it starts, without any OpenTelemetry
    configuration (OTEL_*: the shared and per-signal OTLP endpoints, OTEL_TRACES_EXPORTER,
    OTEL_METRICS_EXPORTER, protocols, headers, samplers...): a benchmarked server exports nothing,
    whatever the shell running the benchmark exports to."""
    return {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- /proc accounting ----------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return data[data.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """`root` and all its live descendants (uvicorn's workers are children of the supervisor)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def cpu_seconds(root: int) -> float:
    """utime + stime of the process tree, in seconds."""
    ticks = 0
    for pid in process_tree(root):
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return ticks / CLOCK_TICKS


def service_cpu_seconds(comm: str) -> float:
    """CPU of every process named `comm` (e.g. `postgres`, `redis-server`), reaped children
    included (cutime + cstime): the database and the channel layer are not the server's
    descendants, so they are accounted apart. 0 when none runs here."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != comm:
                    continue
        except OSError:
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / CLOCK_TICKS


def rss_bytes(root: int) -> int:
    """VmRSS summed over the process tree."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


# --- Server processes ----------------------------------------------------------------------------


class Process:
    """A server in its own process group, output to a log file; stopped with its descendants."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path):
        self.command = command
        self.env = env
        self.log_path = log_path
        self.popen: subprocess.Popen | None = None
        self.killed = False  # SIGTERM did not stop it within STOP_WAIT_SECONDS
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            # SIGTERM to the supervisor only: it stops its workers itself.
            self.popen.terminate()
            try:
                self.popen.wait(STOP_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.killed = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        # Workers left behind in the group (the supervisor died first): end them too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def wait_quiet(self, timeout: float = 15.0, window: float = 0.3) -> None:
        """Wait until the process tree stops burning CPU (imports and start-up done)."""
        deadline = time.monotonic() + timeout
        before = cpu_seconds(self.pid)
        while time.monotonic() < deadline:
            time.sleep(window)
            now = cpu_seconds(self.pid)
            if now - before < 0.02:
                return
            before = now


class LoopbackServer(Process):
    """A server listening on `port` of the loopback interface (a free one, chosen before start)."""

    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


class CsmsServer(LoopbackServer):
    """uvicorn serving bench.echo_asgi (the CSMS plus /echo/) on a free loopback port."""

    def __init__(self, database_url: str, workers: int, log_path: Path):
        self.port = free_port()
        self.workers = workers
        env = {**inherited_environment(), **SERVER_ENV, "DATABASE_URL": database_url}
        env.pop("REDIS_URL", None)
        if workers > 1:
            env["REDIS_URL"] = REDIS_URL
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.echo_asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--ws-max-size",
            "65536",
            "--ws",
            "csms_site.uvicorn_ws:LeanWebSocketProtocol",
            # bench.echo_asgi's router has no lifespan: the first socket starts the background
            # jobs (csms_site/lifespan.py); "auto" notes that and goes on.
            "--lifespan",
            "auto",
        ]
        if workers > 1:
            # A worker busy accepting thousands of sockets can miss the supervisor's 5 s health
            # check and be replaced; shutdown must not hang on channels-redis either.
            command += ["--workers", str(workers), "--timeout-worker-healthcheck", "30"]
            command += ["--timeout-graceful-shutdown", "5"]
        super().__init__(command, env, log_path)

    def start(self, timeout: float = 60.0) -> None:
        if self.workers > 1:
            flush_redis()
        super().start()
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/health/"
        while True:
            if not self.alive():
                raise RuntimeError(f"the server exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not become healthy:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        # Several workers: /health/ answered from one of them; wait for every worker to be up.
        while len(process_tree(self.pid)) < self.workers + (1 if self.workers > 1 else 0):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only some workers started:\n{self.log_tail()}")
            time.sleep(0.1)
        self.wait_quiet()


class BareServer(LoopbackServer):
    """bench/bare_csms.py: a central system written with the `ocpp` library's defaults."""

    def __init__(self, log_path: Path, database_url: str = ""):
        """With a database URL, the `--orm` variant that stores samples one ORM insert each."""
        self.port = free_port()
        env = {**inherited_environment(), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "bench.bare_csms", "--port", str(self.port)]
        if database_url:
            env.update({**SERVER_ENV, "DATABASE_URL": database_url})
            command.append("--orm")
        super().__init__(command, env, log_path)

    def start(self, timeout: float = 30.0) -> None:
        super().start()
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise RuntimeError(f"bare_csms exited at start:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"bare_csms did not listen:\n{self.log_tail()}") from None
                time.sleep(0.1)
        self.wait_quiet()


def flush_redis() -> None:
    """Empty the benchmark's own Redis database (11): no channel-layer leftovers between runs."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


# --- Databases -----------------------------------------------------------------------------------


def manage(
    args: list[str],
    database_url: str,
    variables: dict[str, str] | None = None,
    timeout: float = 300,
) -> str:
    env = {
        **inherited_environment(),
        **SERVER_ENV,
        "DATABASE_URL": database_url,
        **(variables or {}),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


_TOKEN_SCRIPT = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user, _ = get_user_model().objects.get_or_create(username="bench-operator")
user.is_staff = True
user.save()
print(Token.objects.get_or_create(user=user)[0].key)
"""


_REGISTER_SCRIPT = """
import os
from stations.models import RegistrationStatus, Station
from stations.passwords import make_station_password
prefix, count = os.environ["BENCH_PREFIX"], int(os.environ["BENCH_COUNT"])
password = os.environ["BENCH_PASSWORD"]
Station.objects.bulk_create(
    [
        Station(
            id=f"{prefix}{i}",
            registration_status=RegistrationStatus.ACCEPTED,
            password_hash=make_station_password(password),
        )
        for i in range(count)
    ],
    batch_size=500,
)
"""


class BenchDatabase:
    name = ""
    url = ""

    def setup(self) -> None:
        raise NotImplementedError

    def teardown(self) -> None:
        raise NotImplementedError

    def count(self, sql: str, params: tuple = ()) -> int:
        raise NotImplementedError

    def migrate(self) -> None:
        manage(["migrate", "--no-input", "-v", "0"], self.url)

    def staff_token(self) -> str:
        """A staff user's REST API token (created once per database)."""
        return manage(["shell", "-c", _TOKEN_SCRIPT], self.url).strip().splitlines()[-1]

    def register_stations(self, prefix: str, count: int, password: str) -> None:
        """Stations `<prefix>0` … known to the CSMS, Accepted, each with `password` (hashed)."""
        variables = {"BENCH_PREFIX": prefix, "BENCH_COUNT": str(count), "BENCH_PASSWORD": password}
        manage(["shell", "-c", _REGISTER_SCRIPT], self.url, variables)

    @property
    def mark(self) -> str:
        """The driver's parameter placeholder."""
        return "?" if self.name == "sqlite" else "%s"

    def meter_samples(self, station_prefix: str) -> int:
        return self.count(
            f"SELECT COUNT(*) FROM stations_metersample WHERE station_id LIKE {self.mark}",
            (station_prefix + "%",),
        )

    def stations(self, station_prefix: str, where: str = "1=1") -> int:
        """Station rows whose identity starts with the prefix and that match `where` (SQL)."""
        return self.count(
            f"SELECT COUNT(*) FROM stations_station WHERE id LIKE {self.mark} AND {where}",
            (station_prefix + "%",),
        )

    def transaction_events(self, station_prefix: str, where: str = "1=1") -> int:
        """Applied 2.0.1 TransactionEvents (one row per seqNo) of the prefix's stations."""
        return self.count(
            "SELECT COUNT(*) FROM stations_transactionevent e"
            " JOIN stations_transaction t ON t.id = e.transaction_id"
            f" WHERE t.station_id LIKE {self.mark} AND {where}",
            (station_prefix + "%",),
        )


class SqliteDatabase(BenchDatabase):
    """A fresh SQLite file in a temporary directory (WAL mode, as the settings configure it)."""

    name = "sqlite"

    def __init__(self) -> None:
        self.directory = ""

    def setup(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="csms-bench-")
        self.path = Path(self.directory) / "bench.sqlite3"
        self.url = f"sqlite:///{self.path}"
        self.migrate()

    def teardown(self) -> None:
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = ""

    def count(self, sql: str, params: tuple = ()) -> int:
        with sqlite3.connect(self.path, timeout=30) as db:
            return int(db.execute(sql, params).fetchone()[0])


class PostgresDatabase(BenchDatabase):
    """A fresh database `csms_bench` on the local PostgreSQL, dropped afterwards."""

    name = "postgres"
    url = f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DB}"

    def __init__(self) -> None:
        self.created = False

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as db:
            db.execute(statement)

    def setup(self) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        self._admin(f"CREATE DATABASE {PG_BENCH_DB}")
        self.created = True
        self.migrate()

    def teardown(self) -> None:
        if self.created:
            self._admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
            self.created = False

    def count(self, sql: str, params: tuple = ()) -> int:
        import psycopg

        with psycopg.connect(self.url) as db:
            found = db.execute(sql, params).fetchone()
            assert found is not None  # an aggregate query answers one row
            return int(found[0])


DATABASES = {"sqlite": SqliteDatabase, "postgres": PostgresDatabase}
