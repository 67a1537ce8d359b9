"""Real ASGI server processes for end-to-end tests: daphne, `manage.py runserver` (daphne as
`make run` starts it, with the DAPHNE_* settings) or uvicorn, on a free loopback port, sharing the
test database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from csms_site.uvicorn_ws import WS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the test database pytest-django created, for processes started by tests."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class AsgiServer:
    READY = {
        "daphne": "Listening on TCP address",
        "runserver": "Listening on TCP address",
        "uvicorn": "Uvicorn running on",
    }

    def __init__(
        self, kind: str = "daphne", env: dict[str, str] | None = None, args: list[str] | None = None
    ):
        self.kind = kind
        self.args = list(args or ())  # appended to the server's command line
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": test_database_url(),
            "PYTHONUNBUFFERED": "1",
            # The upload URLs it gives stations point at itself.
            "CSMS_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
            **(env or {}),
        }
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        app = "csms_site.asgi:application"
        if self.kind == "daphne":
            return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), app]
        if self.kind == "runserver":
            address = f"127.0.0.1:{self.port}"
            return [sys.executable, "manage.py", "runserver", "--noreload", address, *self.args]
        return [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            # The lifespan starts and stops the background jobs (csms_site/lifespan.py).
            "--lifespan",
            "on",
            "--ws",
            WS,
            *self.args,
        ]

    def start(self, timeout: float = 60) -> AsgiServer:
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"{self.kind} did not start:\n" + "".join(self.lines[-40:]))
        return self

    def _read(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            self.lines.append(line)
            if self.READY[self.kind] in line:
                self._ready.set()
        self._ready.set()  # exited: wake the waiter, which then sees no port

    def output(self) -> str:
        return "".join(self.lines)

    def alive(self) -> bool:
        """Started and not exited."""
        return self.process is not None and self.process.poll() is None

    def wait_healthy(self, timeout: float = 30) -> None:
        """Until /health/ answers 200: the database and the channel layer answer."""
        deadline = time.monotonic() + timeout
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.http_url}/health/", timeout=5) as response,
            ):
                if response.status == 200:
                    return
            assert self.alive(), self.output()
            assert time.monotonic() < deadline, "/health/ never answered 200:\n" + self.output()
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class UvicornWorkers(AsgiServer):
    """`uvicorn --workers N`, as docker-compose.yml runs it: a supervisor process and N worker
    processes accepting on one socket. `args` go on uvicorn's command line."""

    def __init__(
        self, workers: int, env: dict[str, str] | None = None, args: list[str] | None = None
    ):
        super().__init__("uvicorn", env, args)
        self.workers = workers

    def command(self) -> list[str]:
        return [*super().command(), "--workers", str(self.workers)]

    def started_workers(self) -> int:
        """Worker processes started so far, replacements included."""
        return sum("Started server process" in line for line in list(self.lines))

    def worker_pids(self) -> list[int]:
        """The supervisor's child processes now (a dead one stays listed until it is reaped)."""
        assert self.process is not None
        pid = self.process.pid
        found: list[int] = []
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    found += [int(child) for child in children.read().split()]
        return found

    def wait_ready(self, timeout: float = 30) -> None:
        """Until every worker has started and /health/ answers 200."""
        deadline = time.monotonic() + timeout
        while self.started_workers() < self.workers:
            assert self.alive(), self.output()
            assert time.monotonic() < deadline, "workers did not start:\n" + self.output()
            time.sleep(0.05)
        self.wait_healthy(max(deadline - time.monotonic(), 1))

    def wait_replaced(self, pid: int, timeout: float = 30) -> None:
        """Until the supervisor has reaped worker `pid` and runs `workers` others again."""
        deadline = time.monotonic() + timeout
        while pid in (pids := self.worker_pids()) or len(pids) < self.workers:
            assert self.alive(), self.output()
            assert time.monotonic() < deadline, (
                f"worker {pid} not replaced: {pids}\n" + self.output()
            )
            time.sleep(0.05)

    def stop(self) -> None:
        """The supervisor stops its workers; any it left behind are ended too."""
        workers = self.worker_pids() if self.alive() else []
        super().stop()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
