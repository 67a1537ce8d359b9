"""Background work with an owner: every periodic job of a CSMS process, listed once, started and
stopped by the ASGI lifespan (csms_site/lifespan.py), and never started twice in one process.

The registry (`registry()`) names each job, the setting its interval comes from, its scope and what
it writes at shutdown; docs/background-jobs.md has the same table for operators.

- *Per process* jobs work on this process's own memory: its buffers (presence, message log, refused
  logins, dashboard events) and its own station sockets (the silence watch). Every worker runs them,
  and at shutdown each writes out what it still buffers.
- *Per cluster* jobs work on the database alone (stations whose worker died, stale transactions,
  reservation expiry, message log retention): one worker of the whole cluster runs them, the one
  that holds the cluster lock (`cluster_lock()`: a PostgreSQL advisory lock when workers share a
  channel layer, REDIS_URL; nothing without one, or on SQLite, where the process is alone). A
  worker that is not the holder tries to take the lock each time one of its cluster jobs falls
  due, so when the holder dies another worker takes over within one interval of that job.

Started by `lifespan.startup` (uvicorn) or, where the server has no lifespan (daphne, so
`manage.py runserver`), on the first request or socket (`ensure_started`). Each job is one task
that waits its interval, then runs one tick; database work goes through `in_db_thread`, never on
the event loop. `stop()` lets the tick under way finish, stops the loops, runs each job's shutdown
flush and releases the cluster lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import hashlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import connection

from stations.db import in_db_thread

logger = logging.getLogger("csms.jobs")

# The bound on shutdown, so that a database that does not answer cannot hold the process for ever:
# the ticks under way finish and the shutdown flushes run within this many seconds in all (well
# inside docker-compose.yml's stop_grace_period, after uvicorn's --timeout-graceful-shutdown).
SHUTDOWN_SECONDS = 8.0
MIN_INTERVAL = 0.01  # a setting of 0 must not spin the loop


class Scope(enum.Enum):
    PROCESS = "per process"  # this process's buffers and sockets: every worker runs it
    CLUSTER = "per cluster"  # rows of the shared database: the holder of the cluster lock only


@dataclass(frozen=True)
class Job:
    name: str
    scope: Scope
    interval_setting: str  # where the interval comes from (the registry's table, docs)
    interval: Callable[[], float]  # seconds; read before every wait, so settings may change
    tick: Callable[[], Awaitable[object]]  # one run; a non-empty string result is logged
    at_shutdown: Callable[[], Awaitable[object]] | None = None
    flushes: str = ""  # what `at_shutdown` writes, in words


def in_db(function: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    return lambda: in_db_thread(function)()


_contributed: list[Callable[[], Job]] = []


def contribute(job: Callable[[], Job]) -> None:
    """Add another app's job to the registry (from its AppConfig.ready: `reservations` contributes
    the reservation expiry, so that `stations` does not import it)."""
    _contributed.append(job)


def registry() -> tuple[Job, ...]:
    """Every periodic job, in one place: the stations' own, then those other apps contribute.
    Imported late: these modules import half the project."""
    from stations import events, recorders, throttle
    from stations.liveness import check_interval, silence_watch
    from stations.services.liveness import flag_stale_transactions, mark_dead_connections_offline

    def prune_message_log() -> str:
        deleted = recorders.prune_message_log()
        return f"deleted {deleted} entries past the retention" if deleted else ""

    def swept(setting: str) -> float:
        """A sweep tied to a timeout: a quarter of it (at most 30 s); every 30 s when it is off."""
        timeout = float(getattr(settings, setting))
        return check_interval(timeout) if timeout > 0 else 30.0

    return (
        Job(
            "presence",
            Scope.PROCESS,
            "OCPP_PRESENCE_FLUSH_SECONDS",
            lambda: settings.OCPP_PRESENCE_FLUSH_SECONDS,
            recorders.presence.flush,
            recorders.presence.flush,
            "stations' last_seen_at and last_heartbeat_at",
        ),
        Job(
            "message log",
            Scope.PROCESS,
            "OCPP_MESSAGE_LOG_FLUSH_SECONDS",
            lambda: settings.OCPP_MESSAGE_LOG_FLUSH_SECONDS,
            recorders.message_log.flush,
            recorders.flush_message_log_at_shutdown,
            "the buffered frames (MessageLog rows)",
        ),
        Job(
            "refused logins",
            Scope.PROCESS,
            "OCPP_PRESENCE_FLUSH_SECONDS",
            lambda: settings.OCPP_PRESENCE_FLUSH_SECONDS,
            throttle.record_refusals,
            throttle.record_refusals,
            "the tally of handshakes the login throttle refused in memory",
        ),
        Job(
            "dashboard events",
            Scope.PROCESS,
            "stations.events.EVENT_FLUSH_SECONDS",
            lambda: events.EVENT_FLUSH_SECONDS,
            events.publish_buffered,
            events.publish_buffered,
            "committed changes not yet sent to the dashboard group",
        ),
        Job(
            "silence watch",
            Scope.PROCESS,
            "OCPP_SILENCE_TIMEOUT / 4",
            lambda: swept("OCPP_SILENCE_TIMEOUT"),
            silence_watch.tick,
        ),
        Job(
            "dead connections",
            Scope.CLUSTER,
            "OCPP_SILENCE_TIMEOUT / 4",
            lambda: swept("OCPP_SILENCE_TIMEOUT"),
            in_db(mark_dead_connections_offline),
        ),
        Job(
            "stale transactions",
            Scope.CLUSTER,
            "OCPP_STALE_TRANSACTION_AFTER / 4",
            lambda: swept("OCPP_STALE_TRANSACTION_AFTER"),
            in_db(flag_stale_transactions),
        ),
        Job(
            "message log retention",
            Scope.CLUSTER,
            "OCPP_HOUSEKEEPING_SECONDS",
            lambda: settings.OCPP_HOUSEKEEPING_SECONDS,
            in_db(prune_message_log),
        ),
        *(job() for job in _contributed),
    )


# --- the cluster lock ------------------------------------------------------------------------------


class ClusterLock(Protocol):
    kind: str

    async def hold(self) -> bool:
        """Whether this process holds the lock now, taking it if it is free."""
        ...

    async def release(self) -> None: ...

    def abandon(self) -> None:
        """Drop the lock without waiting (the event loop is going away)."""
        ...


class LocalLock:
    """No lock: this process is the whole cluster. Without REDIS_URL the channel layer is in memory,
    and one process is all such a deployment can be (a station's socket and the commands for it
    must meet in one layer); SQLite is the embedded setup, one process too. (Several processes on
    one database without a shared layer would each run the cluster jobs: every one of them only
    changes a row that still matches what it read, so the work is repeated, never doubled.)"""

    kind = "none (one process)"

    async def hold(self) -> bool:
        return True

    async def release(self) -> None:
        return None

    def abandon(self) -> None:
        return None


LOCK_NAME = "csms cluster jobs"


def advisory_key(name: str) -> int:
    """pg_try_advisory_lock takes a bigint: the first 8 bytes of a hash of the lock's name. Advisory
    locks belong to one database, so deployments (and test runs) on other databases never collide;
    settings.BACKGROUND_LOCK_NAME names another lock on the same one (tests run servers side by
    side on one database)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLock:
    """PostgreSQL: a session-level advisory lock on a connection of its own (not Django's, which
    its pool or CONN_MAX_AGE may close at any time), held for as long as that session lives.

    The lock dies with its session: a holder that exits, is killed or loses its connection releases
    it at once (a host that vanishes without closing its sockets: once PostgreSQL's keepalive on
    that session gives up, set here to about a minute). The holder checks its session with a round
    trip each time a cluster job falls due, and stops running them as soon as it fails."""

    kind = "PostgreSQL advisory lock"

    def __init__(self, key: int | None = None) -> None:
        name = getattr(settings, "BACKGROUND_LOCK_NAME", LOCK_NAME)
        self.key = advisory_key(name) if key is None else key
        self.held = False
        self._db: Any = None  # psycopg.Connection
        self._mutex = threading.Lock()  # database threads may differ between calls

    async def hold(self) -> bool:
        return await in_db_thread(self._hold)()

    async def release(self) -> None:
        await in_db_thread(self.abandon)()

    def abandon(self) -> None:
        with self._mutex:
            self._drop()

    def _hold(self) -> bool:
        import psycopg

        with self._mutex:
            try:
                if self.held:
                    self._db.execute("SELECT 1")
                    return True
                if self._db is None or self._db.closed:
                    self._db = self._connect()
                row = self._db.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
                self.held = bool(row and row[0])
            except psycopg.Error as error:
                if self.held:
                    logger.warning(
                        "cluster lock lost: its connection failed (%s); another worker takes over",
                        error,
                        extra={"pid": os.getpid()},
                    )
                else:
                    logger.warning("cluster lock: could not try it: %s", error)
                self._drop()
                return False
            if self.held:
                logger.info(
                    "cluster lock taken: this process (pid %d) runs the cluster jobs",
                    os.getpid(),
                    extra={"pid": os.getpid()},
                )
            return self.held

    def _connect(self) -> Any:
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        db = psycopg.connect(
            **params,
            autocommit=True,
            application_name=f"csms cluster jobs (pid {os.getpid()})",
            connect_timeout=10,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
        # The server side of the session gives up on a vanished host after about a minute too
        # (ignored where the connection is a Unix socket).
        for name, value in (("idle", 30), ("interval", 10), ("count", 3)):
            with contextlib.suppress(psycopg.Error):
                db.execute(f"SET tcp_keepalives_{name} = {value}")
        return db

    def _drop(self) -> None:
        db, self._db, self.held = self._db, None, False
        if db is not None:
            with contextlib.suppress(Exception):
                db.close()  # the session ends, and the lock with it


def cluster_lock() -> ClusterLock:
    """The lock for this deployment: workers form a cluster through a shared channel layer
    (REDIS_URL) and a shared PostgreSQL database. Read the docstrings of both for why nothing else."""
    if getattr(settings, "REDIS_URL", "") and connection.vendor == "postgresql":
        return AdvisoryLock()
    return LocalLock()


# --- the runner ------------------------------------------------------------------------------------


async def _pause(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` unless told to stop first; whether to go on."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(seconds, MIN_INTERVAL)):
            await stopping.wait()
    return not stopping.is_set()


class JobRunner:
    """Runs the registry's jobs in one event loop: at most one set per process."""

    def __init__(self, jobs: Callable[[], Sequence[Job]] = registry) -> None:
        self._jobs = jobs
        self._main: asyncio.Task | None = None
        self._stopping: asyncio.Event | None = None
        self.started_by = ""
        self.lock: ClusterLock | None = None
        # The event loop the jobs were last stopped in: no "first use" there restarts them (a
        # request that arrives during the server's shutdown, a dashboard event published then).
        self._stopped_in: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        """Whether the jobs run in this process (in a loop that is still open). Cheap: called on
        every request and socket, and from database threads."""
        task = self._main
        return task is not None and not task.done() and not task.get_loop().is_closed()

    def start(self, started_by: str) -> bool:
        """Start every job in the running event loop; False if they run already."""
        if self.running:
            return False
        loop = asyncio.get_running_loop()
        jobs = tuple(self._jobs())
        self._stopping = asyncio.Event()
        self.started_by = started_by
        # A context of their own: the jobs belong to no request (its trace span, its thread).
        self._main = loop.create_task(
            self._run(jobs, self._stopping), name="csms-jobs", context=contextvars.Context()
        )
        logger.info(
            "background jobs started (%s, pid %d): %s",
            started_by,
            os.getpid(),
            ", ".join(job.name for job in jobs),
            extra={"pid": os.getpid(), "started_by": started_by},
        )
        return True

    def ensure_started(self) -> bool:
        """Where no lifespan started them (daphne, a test's event loop): start the jobs on first
        use. Whether this call started them."""
        if self.running:
            return False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False  # synchronous code: the next request or socket starts them
        if loop is self._stopped_in:
            return False  # stopped for good in this loop: the server is going away
        return self.start("first use")

    async def stop(self) -> None:
        """Stop the loops (the tick under way finishes), flush what the jobs buffer, release the
        cluster lock."""
        task, stopping = self._main, self._stopping
        if task is None or task.done() or stopping is None:
            return
        if task.get_loop() is not asyncio.get_running_loop():
            logger.warning("background jobs: stop() called from another event loop; ignored")
            return
        stopping.set()
        self._stopped_in = task.get_loop()
        try:
            await asyncio.wait_for(asyncio.shield(task), SHUTDOWN_SECONDS + 5)
        except TimeoutError:
            logger.error("background jobs did not stop in time; cancelled")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            self._main = None

    async def _run(self, jobs: tuple[Job, ...], stopping: asyncio.Event) -> None:
        lock = self.lock = cluster_lock()
        logger.info("cluster jobs: cluster lock %s", lock.kind)
        loops = [
            asyncio.create_task(self._loop(job, lock, stopping), name=f"csms-job {job.name}")
            for job in jobs
        ]
        try:
            await stopping.wait()
            deadline = asyncio.get_running_loop().time() + SHUTDOWN_SECONDS
            _, late = await asyncio.wait(loops, timeout=SHUTDOWN_SECONDS / 2) if loops else ((), ())
            for task in late:
                logger.warning("background jobs: %s did not finish its tick; cancelled", task)
                task.cancel()
            await self._flush(jobs, deadline)
            await lock.release()
            logger.info("background jobs stopped (pid %d)", os.getpid())
        finally:
            for task in loops:
                task.cancel()
            lock.abandon()  # cancelled with its event loop: no await left

    async def _loop(self, job: Job, lock: ClusterLock, stopping: asyncio.Event) -> None:
        while await _pause(stopping, job.interval()):
            try:
                if job.scope is Scope.CLUSTER:
                    if not await lock.hold():
                        continue
                    logger.debug(
                        "cluster job %s",
                        job.name,
                        extra={"job": job.name, "pid": os.getpid()},
                    )
                result = await job.tick()
                if isinstance(result, str) and result:
                    logger.info("%s: %s", job.name, result)
            except Exception:
                logger.exception("%s failed; retrying next interval", job.name)

    async def _flush(self, jobs: tuple[Job, ...], deadline: float) -> None:
        """Each job's shutdown flush, in the registry's order, all before `deadline`."""
        loop = asyncio.get_running_loop()
        for job in jobs:
            if job.at_shutdown is None:
                continue
            try:
                await asyncio.wait_for(job.at_shutdown(), max(deadline - loop.time(), 0.5))
            except Exception:
                logger.exception("%s: the shutdown flush failed", job.name)


runner = JobRunner()


def ensure_started() -> None:
    """The fallback where no lifespan ran: a no-op once the jobs run (see `JobRunner`)."""
    if not runner.running:
        runner.ensure_started()
