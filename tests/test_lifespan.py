"""Background work with an owner: the ASGI lifespan starts the jobs of stations/background.py, and
its shutdown stops them and writes out what they buffered; where the server has no lifespan
(daphne, `manage.py runserver`) the first request or socket starts them, and the reactor's shutdown
flushes. Never twice in one process.

The end-to-end tests make the shutdown the only flush (intervals of an hour): whatever reaches the
database after SIGTERM was written by the shutdown.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async
from django.test import override_settings
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from csms_site.asgi import application
from stations import background
from stations.background import Scope, registry, runner
from stations.models import MessageLog, RegistrationStatus, Station, StationEvent
from stations.passwords import make_station_password
from tests.ocpp_client import OcppTestClient, boot_payload
from tests.servers import AsgiServer

pytestmark = pytest.mark.django_db(transaction=True)

AN_HOUR = "3600"
# The servers' settings: the test settings, flush intervals from the environment.
QUIET = {
    "DJANGO_SETTINGS_MODULE": "tests.lifespan_settings",
    "OCPP_MESSAGE_LOG_FLUSH_SECONDS": AN_HOUR,
    "OCPP_PRESENCE_FLUSH_SECONDS": AN_HOUR,
    # One failure is the limit: the next wrong key is refused in memory, and tallied.
    "OCPP_LOGIN_FAILURE_LIMIT": "1",
    "OCPP_LOGIN_THROTTLE_DELAY": "0",
}


async def until(condition: Callable[[], Any], timeout: float = 30, what: str = "") -> None:
    """Poll `condition` (another process's doing: nothing to wait on) until true or the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.05)


# --- the registry ------------------------------------------------------------------------------------


def test_the_registry_lists_every_job_once_with_its_scope_interval_and_shutdown_flush():
    jobs = {job.name: job for job in registry()}
    assert len(jobs) == len(registry())
    assert {name for name, job in jobs.items() if job.scope is Scope.CLUSTER} == {
        "dead connections",
        "stale transactions",
        "reservation expiry",
        "message log retention",
        "local list sync",
        "certificate renewal",
        "firmware campaigns",
        "load management",
        "running cost",
    }
    flushed = {name for name, job in jobs.items() if job.at_shutdown is not None}
    assert flushed == {"presence", "message log", "refused logins", "dashboard events"}
    for job in jobs.values():
        assert job.interval() > 0 and job.interval_setting
        assert job.scope is Scope.PROCESS or job.at_shutdown is None  # the database keeps those
        assert bool(job.flushes) == (job.at_shutdown is not None)


# --- in process: the lifespan protocol --------------------------------------------------------------


class Lifespan:
    """What uvicorn does with `--lifespan on`, in this process."""

    def __init__(self, app: Any) -> None:
        self.inbox: asyncio.Queue[dict] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict] = asyncio.Queue()
        self.task = asyncio.create_task(
            app({"type": "lifespan", "asgi": {"version": "3.0"}}, self.inbox.get, self.outbox.put)
        )

    async def send(self, kind: str) -> dict:
        await self.inbox.put({"type": f"lifespan.{kind}"})
        return await asyncio.wait_for(self.outbox.get(), 30)


@database_sync_to_async
def logged(identity: str) -> list[tuple[str, str]]:
    return list(
        MessageLog.objects.filter(station_id=identity)
        .order_by("id")
        .values_list("direction", "action")
    )


@override_settings(OCPP_MESSAGE_LOG_FLUSH_SECONDS=3600, OCPP_PRESENCE_FLUSH_SECONDS=3600)
async def test_lifespan_startup_starts_the_jobs_once_and_shutdown_flushes_what_they_buffer(
    make_station,
):
    await make_station("CP_1")
    lifespan = Lifespan(application)
    assert await lifespan.send("startup") == {"type": "lifespan.startup.complete"}
    assert runner.running and runner.started_by == "lifespan"
    assert not runner.start("again") and not runner.ensure_started()  # never twice

    client, connected, _ = await OcppTestClient.open("CP_1", "1.6")
    assert connected
    await client.boot()
    await client.heartbeat()
    assert runner.started_by == "lifespan"  # the socket started nothing more
    assert await logged("CP_1") == []  # an hour to go before the next flush
    await client.close()

    assert await lifespan.send("shutdown") == {"type": "lifespan.shutdown.complete"}
    await asyncio.wait_for(lifespan.task, 10)
    assert not runner.running
    assert not runner.ensure_started()  # stopped for good: a late request starts nothing
    assert await logged("CP_1") == [
        ("in", "BootNotification"),
        ("out", "BootNotification"),
        ("in", "Heartbeat"),
        ("out", "Heartbeat"),
    ]
    station = await Station.objects.aget(pk="CP_1")
    assert station.last_heartbeat_at is not None and station.last_seen_at is not None


async def test_without_a_lifespan_the_first_socket_starts_the_jobs_and_nothing_starts_them_again(
    make_station,
):
    await make_station("CP_1")
    await make_station("CP_2")
    assert not runner.running  # a fresh event loop: the last test's jobs ended with theirs
    first, _, _ = await OcppTestClient.open("CP_1", "1.6")
    assert runner.running and runner.started_by == "first use"
    started = runner._main
    second, _, _ = await OcppTestClient.open("CP_2", "2.0.1")
    background.ensure_started()
    assert runner._main is started
    await first.close()
    await second.close()
    await runner.stop()
    assert not runner.running


async def test_a_job_that_fails_is_logged_and_runs_again_at_its_next_interval(caplog):
    logging.getLogger("csms.jobs").addHandler(caplog.handler)  # "csms" does not propagate
    ticks: list[float] = []

    async def failing() -> None:
        ticks.append(time.monotonic())
        raise RuntimeError("the database is away")

    job = background.Job("flaky", Scope.PROCESS, "none", lambda: 0.02, failing)
    own = background.JobRunner(lambda: [job])
    assert own.start("test")
    await until(lambda: len(ticks) >= 3, what="three ticks")
    await own.stop()
    logging.getLogger("csms.jobs").removeHandler(caplog.handler)
    assert "flaky failed; retrying next interval" in caplog.text


# --- end to end: real servers, SIGTERM ----------------------------------------------------------


def basic(identity: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{identity}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def connect(
    server: AsgiServer, identity: str, password: str | None = None
) -> websockets.ClientConnection:
    return await websockets.connect(
        f"{server.url}/ocpp/{identity}",
        subprotocols=[Subprotocol("ocpp1.6")],
        additional_headers=basic(identity, password) if password else {},
        open_timeout=30,
        ping_interval=None,
    )


async def call(ws: websockets.ClientConnection, unique_id: str, action: str, payload: dict) -> list:
    await ws.send(json.dumps([2, unique_id, action, payload]))
    answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert answer[:2] == [3, unique_id], answer
    return answer


async def refused(server: AsgiServer, identity: str, password: str) -> int:
    with pytest.raises(InvalidStatus) as error:
        await connect(server, identity, password)
    return error.value.response.status_code


@database_sync_to_async
def register(identity: str, password: str = "") -> None:
    Station.objects.create(
        id=identity,
        password_hash=make_station_password(password) if password else "",
        registration_status=RegistrationStatus.ACCEPTED,
    )


@database_sync_to_async
def event_types(identity: str) -> list[str]:
    return list(StationEvent.objects.filter(station_id=identity).values_list("type", flat=True))


async def sigterm(server: AsgiServer) -> None:
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(server.process.wait, 60)
    # uvicorn 0.55 re-raises the signal once its shutdown is complete; daphne exits with 0.
    assert code in (0, -signal.SIGTERM), server.output()[-3000:]


@pytest.mark.live
@pytest.mark.parametrize("kind", ["uvicorn", "runserver"])
async def test_sigterm_writes_the_buffered_message_log_presence_and_refusals_before_exit(kind):
    """uvicorn: the lifespan starts the jobs and its shutdown flushes. runserver (daphne, no
    lifespan): the first socket starts them, the reactor's shutdown flushes."""
    await register("LIVE_1")
    await register("LOCKED", password="right-key-0123456789")
    server = AsgiServer(kind, env=QUIET).start()
    try:
        if kind == "uvicorn":  # before any request: the lifespan did it
            await until(lambda: "background jobs started (lifespan" in server.output())
        ws = await connect(server, "LIVE_1")
        await call(ws, "b1", "BootNotification", boot_payload("1.6"))
        await call(ws, "h1", "Heartbeat", {})
        # Recorded in full at once, then refused in memory and tallied (daphne says 403 to both).
        statuses = [await refused(server, "LOCKED", "wrong-key-0123456789") for _ in range(2)]
        assert statuses == ([401, 429] if kind == "uvicorn" else [403, 403])
        await until(lambda: "background jobs started" in server.output())
        assert await logged("LIVE_1") == []  # an hour to the next flush
        assert "LoginsThrottled" not in await event_types("LOCKED")

        await sigterm(server)
        await ws.close()
    finally:
        server.stop()
    output = server.output()
    assert output.count("background jobs started") == 1, output[-3000:]
    assert ("(lifespan" if kind == "uvicorn" else "(first use") in output
    assert "background jobs stopped" in output
    assert await logged("LIVE_1") == [
        ("in", "BootNotification"),
        ("out", "BootNotification"),
        ("in", "Heartbeat"),
        ("out", "Heartbeat"),
    ]
    station = await Station.objects.aget(pk="LIVE_1")
    assert station.last_heartbeat_at is not None
    assert "LoginsThrottled" in await event_types("LOCKED")
    locked = await Station.objects.aget(pk="LOCKED")
    assert locked.failed_logins == 2  # one recorded at once, one in the tally the shutdown wrote


@override_settings(REDIS_URL="")
def test_a_process_without_a_shared_channel_layer_is_its_own_cluster():
    """No REDIS_URL: the in-memory channel layer, one process; it takes no lock, whatever the
    database (the cluster test is tests/test_lifespan_cluster.py)."""
    assert isinstance(background.cluster_lock(), background.LocalLock)
