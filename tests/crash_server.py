"""A CSMS server that tests kill with SIGKILL and restart on the same port, dozens of times.

Each server is a real uvicorn process serving `csms_site.asgi` on the test database. Importing
Django and the CSMS costs a second or more of CPU, too much to pay dozens of times in one test, so
the application is imported once, in a parent process that never serves, and every server is a
fork of it (what `gunicorn --preload` does): a killed server is replaced in a few milliseconds, on
the same port, and every restart still opens its own database connections.

    python -m tests.crash_server PORT

reads commands on stdin: `serve` forks a server (after reaping the previous one, which the test
has killed), `quit` ends the parent. It prints `forked <pid>` for each server; uvicorn prints
"Uvicorn running on" once the server listens.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

from csms_site.uvicorn_ws import WS
from tests.batch_hold import HELD
from tests.servers import ROOT, free_port, test_database_url

HELD_SIZE = re.compile(re.escape(HELD) + r"(\d+)")

WARM = "crash-server: application imported"
FORKED = "crash-server: forked "
READY = "Uvicorn running on"


class CrashableServer:
    """The CSMS on one fixed port: `start()`, `kill()` (SIGKILL), `start()` again, ..."""

    def __init__(self, env: dict[str, str] | None = None):
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.crash_settings",
            "DATABASE_URL": test_database_url(),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.lines: deque[str] = deque(maxlen=400)
        self.pid: int | None = None  # the serving process
        self.kills = 0
        self._warm = threading.Event()
        self._ready = threading.Event()
        self._forked: deque[int] = deque()
        self._got_pid = threading.Event()
        self._parent: subprocess.Popen | None = None
        # A batch held open by tests/batch_hold.py: its size, and whether one is being held.
        self.held_sizes: list[int] = []
        self.batch_held = threading.Event()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> CrashableServer:
        """Serve on the port; returns once the server listens."""
        if self._parent is None:
            self._parent = subprocess.Popen(
                [sys.executable, "-m", "tests.crash_server", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            threading.Thread(target=self._read, daemon=True).start()
            if not self._warm.wait(timeout) or self._parent.poll() is not None:
                self.stop()
                raise RuntimeError(f"the server did not import the application:\n{self.output()}")
        assert not self.alive(), "already serving"
        self._ready.clear()
        self._got_pid.clear()
        self._command("serve")
        listening = self._got_pid.wait(timeout) and self._ready.wait(timeout)
        if not listening or self._parent.poll() is not None or not self._forked:
            self.stop()
            raise RuntimeError(f"the server did not listen:\n{self.output()}")
        self.pid = self._forked.popleft()
        if not self.alive():
            raise RuntimeError(f"the server {self.pid} died at start:\n{self.output()}")
        return self

    def kill(self, timeout: float = 30) -> None:
        """SIGKILL the serving process, as the OOM killer or a power cut would; returns once it is
        dead (its sockets closed)."""
        assert self.pid is not None
        pidfd = os.pidfd_open(self.pid)  # readable once the process has exited
        try:
            os.kill(self.pid, signal.SIGKILL)
            if not select.select([pidfd], [], [], timeout)[0]:
                raise RuntimeError(f"the server {self.pid} survived SIGKILL")
        finally:
            os.close(pidfd)
        self.kills += 1

    def alive(self) -> bool:
        """Whether the serving process runs (neither gone nor a zombie waiting to be reaped)."""
        if self.pid is None:
            return False
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")

    def stop(self) -> None:
        if self.pid is not None and self.alive():
            os.kill(self.pid, signal.SIGTERM)
        while self._forked:  # forked but never taken as the server (it failed to listen)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._forked.popleft(), signal.SIGKILL)
        if self._parent is not None and self._parent.poll() is None:
            try:
                self._command("quit")
                self._parent.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self._parent.kill()
                self._parent.wait()
        self.pid = None

    def output(self) -> str:
        return "".join(list(self.lines)[-60:])

    def _command(self, line: str) -> None:
        assert self._parent is not None and self._parent.stdin is not None
        self._parent.stdin.write(line + "\n")
        self._parent.stdin.flush()

    def _read(self) -> None:
        assert self._parent is not None and self._parent.stdout is not None
        for line in self._parent.stdout:
            self.lines.append(line)
            if line.startswith(FORKED):
                self._forked.append(int(line[len(FORKED) :]))
                self._got_pid.set()
            elif READY in line:
                self._ready.set()
            elif line.startswith(HELD):
                # One size per announcement, even if a line ever holds two: a reader that died
                # on a bad line would leave every later waiter to time out.
                self.held_sizes.extend(int(size) for size in HELD_SIZE.findall(line))
                self.batch_held.set()
            elif WARM in line:
                self._warm.set()
        # The parent exited: wake any waiter, which then sees it gone.
        for event in (self._warm, self._got_pid, self._ready):
            event.set()


def main() -> None:
    port = int(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.crash_settings")
    import uvicorn

    from csms_site.asgi import application

    print(WARM, flush=True)
    child: int | None = None
    for line in sys.stdin:
        if child is not None:
            # The test killed it (or asks us to quit after SIGTERM): reap it, freeing the port.
            os.waitpid(child, 0)
            child = None
        if line.strip() != "serve":
            break
        child = os.fork()
        if child == 0:
            try:
                uvicorn.run(
                    application,
                    host="127.0.0.1",
                    port=port,
                    lifespan="on",  # the background jobs start and stop as in production
                    ws=WS,
                    access_log=False,
                    timeout_graceful_shutdown=3,
                )
            finally:
                os._exit(0)
        print(f"{FORKED}{child}", flush=True)
    if child is not None:
        os.waitpid(child, 0)


if __name__ == "__main__":
    main()
