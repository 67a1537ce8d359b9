"""Jobs of the whole cluster run once per tick, whatever the number of workers: the worker holding
the PostgreSQL advisory lock runs them, and when it dies another takes over.

PostgreSQL only (`DATABASE_URL=postgres://...`), and Redis: workers form a cluster through a shared
channel layer; without one, or on SQLite, a process is alone and takes no lock. The servers here
get a lock name of their own (BACKGROUND_LOCK_NAME), so that no other test's servers on the same
test database compete with them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from stations.background import AdvisoryLock, advisory_key
from tests.conftest import require_service
from tests.servers import AsgiServer

pytestmark = pytest.mark.django_db(transaction=True)

TICK = 0.1  # OCPP_RESERVATION_SWEEP_SECONDS of the servers: a cluster job every 100 ms


@pytest.fixture(autouse=True)
def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the cluster lock is PostgreSQL's (SQLite serves one process)")


async def until(condition: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    """Poll `condition` (other processes' doing: nothing to wait on) until truthy or the deadline."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.05)
    return result


# --- the lock on its own ------------------------------------------------------------------------------


async def test_one_holder_at_a_time_and_a_closed_session_frees_the_lock():
    key = advisory_key(f"test {uuid.uuid4()}")
    first, second = AdvisoryLock(key), AdvisoryLock(key)
    try:
        assert await first.hold()
        assert await first.hold()  # still its own: one round trip checks the session
        assert not await second.hold()
        first.abandon()  # as when its process dies: the session ends
        assert await second.hold()
        assert not await first.hold()
    finally:
        first.abandon()
        second.abandon()


# --- two uvicorn workers ------------------------------------------------------------------------


class Workers:
    """`uvicorn --workers 2` with JSON logs: who ticks and who holds the lock, from its output."""

    def __init__(self) -> None:
        require_service("Redis", "127.0.0.1", 6379)
        self.lock_name = f"test cluster {uuid.uuid4()}"
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.lifespan_settings",
            "REDIS_URL": "redis://127.0.0.1:6379/10",
            "BACKGROUND_LOCK_NAME": self.lock_name,
            "OCPP_RESERVATION_SWEEP_SECONDS": str(TICK),
            "LOG_LEVEL": "DEBUG",
            "LOG_FORMAT": "json",
        }
        self.server = AsgiServer("uvicorn", env=env, args=["--workers", "2"])

    def start(self) -> Workers:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def records(self) -> list[dict]:
        found = []
        for line in list(self.server.lines):
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def started(self) -> set[int]:
        return {r["pid"] for r in self.records() if r.get("started_by") == "lifespan"}

    def ticks(self, since: int = 0) -> list[int]:
        """The pid of every tick of the reservation expiry, in order, from record `since` on."""
        return [
            r["pid"]
            for r in self.records()[since:]
            if r.get("logger") == "csms.jobs" and r.get("job") == "reservation expiry"
        ]

    def holders(self) -> list[int]:
        """The pids that announced taking the lock, in order."""
        return [
            r["pid"]
            for r in self.records()
            if r.get("logger") == "csms.jobs" and r["message"].startswith("cluster lock taken")
        ]


@database_sync_to_async
def lock_sessions(lock_name: str) -> list[str]:
    """The application names of the sessions holding the lock (its key, split as pg_locks shows
    a bigint key: classid the high 32 bits, objid the low ones)."""
    key = advisory_key(lock_name) & 0xFFFFFFFFFFFFFFFF
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [key >> 32, key & 0xFFFFFFFF],
        )
        return [name for (name,) in cursor.fetchall()]


async def a_window_of_ticks(workers: Workers, count: int = 20) -> tuple[list[int], float]:
    """`count` ticks from now on, and how long they took."""
    since = len(workers.records())
    start = time.monotonic()
    ticks = await until(
        lambda: (found := workers.ticks(since)) and len(found) >= count and found,
        what=f"{count} ticks",
    )
    return ticks, time.monotonic() - start


def at_most_once_per_tick(ticks: list[int], seconds: float) -> None:
    assert len(set(ticks)) == 1, f"ticks from several workers: {ticks}"
    # One runner ticking every TICK s (plus the cost of a tick): never two runners' worth.
    assert len(ticks) <= seconds / TICK + 3, (len(ticks), seconds)


@pytest.mark.live
async def test_two_workers_run_a_cluster_job_once_per_tick_and_the_holders_death_hands_it_on():
    workers = Workers().start()
    try:
        await until(lambda: len(workers.started()) == 2, what="both workers' lifespan startup")
        ticks, seconds = await a_window_of_ticks(workers)
        at_most_once_per_tick(ticks, seconds)
        holder = ticks[0]
        assert workers.holders() == [holder]
        assert await lock_sessions(workers.lock_name) == [f"csms cluster jobs (pid {holder})"]
        other = (workers.started() - {holder}).pop()
        assert other not in workers.ticks()  # it tried the lock on every tick, and never got it

        os.kill(holder, signal.SIGKILL)  # no shutdown, no release: the session just ends
        successor = await until(
            lambda: next((pid for pid in workers.holders() if pid != holder), None),
            what="another worker taking the lock",
        )
        ticks, seconds = await a_window_of_ticks(workers)
        at_most_once_per_tick(ticks, seconds)
        assert ticks[0] == successor
        assert await lock_sessions(workers.lock_name) == [f"csms cluster jobs (pid {successor})"]
    finally:
        workers.stop()
