"""`manage.py ocpp_command` and its default payloads.

In-process against a test client: through the channel layer (`--layer`, the in-memory layer of the
test's own loop) and through the REST API (the API's views called in the same loop). From separate
processes: through the REST API of a real daphne server without Redis (the two-terminal walk-through
of the README), and through Redis; many runs in a row must each end, and the answer a station gives
just before it closes its socket must still reach the command."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from csms_site.channel_layer import ShieldedRedisChannelLayer
from ocppj import RpcEndpoint, schemas
from stations.management.commands.ocpp_command import (
    REPLY_MARGIN_SECONDS,
    SERVICE_USER,
    ApiTransport,
)
from stations.models import Command, Station, Transaction
from stations.remote import delivery
from stations.remote.catalog import CSMS_ACTIONS, NoDefaultPayload, default_payload, request_id
from stations.remote.verdict import declined_status
from tests import servers
from tests.api_clients import TokenClient
from tests.conftest import require_service
from tests.ocpp_client import LiveClient, OcppTestClient
from tests.servers import ROOT, AsgiServer

DEFAULT_ACTIONS = {
    "2.0.1": [
        "ClearCache",
        "GetBaseReport",
        "GetVariables",
        "SetVariables",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "Reset",
        "UnlockConnector",
        "ChangeAvailability",
        "TriggerMessage",
        "DataTransfer",
        "GetTransactionStatus",
        "GetLocalListVersion",
    ],
    "1.6": [
        "ClearCache",
        "GetConfiguration",
        "ChangeConfiguration",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "Reset",
        "UnlockConnector",
        "ChangeAvailability",
        "TriggerMessage",
        "DataTransfer",
        "GetLocalListVersion",
    ],
}
STOP = {"2.0.1": "RequestStopTransaction", "1.6": "RemoteStopTransaction"}
# The default reset is the soft one in both versions: it never interrupts a charging session.
RESET = {"2.0.1": {"type": "OnIdle"}, "1.6": {"type": "Soft"}}
WAIT = 10  # seconds any expected frame or process exit may take
RUNS = 15  # processes in the many-runs test


def active_transaction(
    station: Station, protocol: str, *, ocpp_id: str = "TX", minutes_ago: int = 5, is_active=True
) -> Transaction:
    """1.6 transactions are known by their primary key, 2.0.1 ones by the station's own id."""
    return Transaction.objects.create(
        station=station,
        evse_id=1,
        ocpp_id=ocpp_id if protocol == "2.0.1" else None,
        started_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
        is_active=is_active,
    )


# --- default payloads -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "action"),
    [(protocol, action) for protocol, actions in DEFAULT_ACTIONS.items() for action in actions],
)
def test_every_default_payload_is_schema_valid(db, protocol, action):
    station = Station.objects.create(id="CP_D", protocol=protocol)
    active_transaction(station, protocol)
    assert action in CSMS_ACTIONS[protocol]
    payload = default_payload(action, protocol, "CP_D")
    schemas.validate(protocol, action, schemas.REQUEST, payload)


@pytest.mark.parametrize("protocol", ["2.0.1", "1.6"])
def test_a_stop_targets_the_newest_active_transaction(db, protocol):
    station = Station.objects.create(id="CP_D", protocol=protocol)
    active_transaction(station, protocol, minutes_ago=60, ocpp_id="OLD")
    newest = active_transaction(station, protocol, minutes_ago=10, ocpp_id="NEW")
    active_transaction(station, protocol, minutes_ago=1, ocpp_id="DONE", is_active=False)
    expected = "NEW" if protocol == "2.0.1" else newest.pk
    assert default_payload(STOP[protocol], protocol, "CP_D") == {"transactionId": expected}


@pytest.mark.parametrize("protocol", ["2.0.1", "1.6"])
def test_a_stop_without_an_active_transaction_asks_for_a_payload(db, protocol):
    Station.objects.create(id="CP_D", protocol=protocol)
    # The reason only: the shell adds "--payload", the API "the request body" (tested there).
    with pytest.raises(NoDefaultPayload, match=r"CP_D has no active transaction"):
        default_payload(STOP[protocol], protocol, "CP_D")


def test_an_action_without_a_default_asks_for_a_payload():
    with pytest.raises(NoDefaultPayload, match="SetChargingProfile needs the profile"):
        default_payload("SetChargingProfile", "2.0.1", "CP_D")
    with pytest.raises(NoDefaultPayload, match=r"ClearCache is not a command of OCPP 3\.0"):
        default_payload("ClearCache", "3.0", "CP_D")


def test_request_ids_are_positive_and_differ_on_every_call():
    ids = [request_id() for _ in range(1000)]
    assert min(ids) > 0 and len(set(ids)) == len(ids)
    first = default_payload("GetBaseReport", "2.0.1", "CP_D")["requestId"]
    assert default_payload("GetBaseReport", "2.0.1", "CP_D")["requestId"] != first


# --- in-process: the command in a worker thread, the station in the test's event loop -----------


def start_command(
    *args: str, way: str = "--layer"
) -> tuple[asyncio.Task, io.StringIO, io.StringIO]:
    """Run the command in a thread of its own while the test keeps answering frames; its async
    part runs in this test's loop, where the station's socket and the in-memory layer live."""
    out, err = io.StringIO(), io.StringIO()
    run = sync_to_async(call_command, thread_sensitive=False)
    extra = [way] if way else []
    task = asyncio.create_task(run("ocpp_command", *args, *extra, stdout=out, stderr=err))
    return task, out, err


async def finish(task: asyncio.Task) -> None:
    await asyncio.wait_for(task, WAIT)


def cli_commands(**filters):
    return Command.objects.filter(source="cli", **filters).order_by("id")


async def test_a_default_command_is_sent_and_its_answer_printed(booted, version):
    task, out, _ = start_command("CP_1", "Reset")
    call = await booted.answer()
    assert call[2] == "Reset" and call[3] == RESET[version]
    await finish(task)

    lines = out.getvalue().splitlines()
    assert lines[0] == f"CP_1 -> Reset {json.dumps(RESET[version])}"
    assert lines[1].startswith('CP_1 <- Reset {"status": "Accepted"} (')
    assert lines[1].endswith(" ms)") and len(lines) == 2
    recorded = await cli_commands().aget()
    assert (recorded.station_id, recorded.action, recorded.outcome) == ("CP_1", "Reset", "answered")
    assert recorded.payload == RESET[version] and recorded.response == {"status": "Accepted"}


async def test_a_given_payload_is_sent_as_is(booted, version):
    payload = {"type": "OnIdle"} if version == "2.0.1" else {"type": "Hard"}
    task, out, _ = start_command("CP_1", "Reset", "--payload", json.dumps(payload))
    call = await booted.answer({"status": "Scheduled" if version == "2.0.1" else "Accepted"})
    assert call[3] == payload
    await finish(task)
    assert out.getvalue().splitlines()[0] == f"CP_1 -> Reset {json.dumps(payload)}"


async def test_a_period_with_a_count_sends_that_many_commands(booted, version):
    task, out, _ = start_command("CP_1", "ClearCache", "--count", "3", "--period", "0.05")
    for _ in range(3):
        call = await booted.answer()
        assert call[2] == "ClearCache" and call[3] == {}
    await finish(task)

    lines = out.getvalue().splitlines()
    assert lines[0:6:2] == ["CP_1 -> ClearCache {}"] * 3
    assert all(
        line.startswith('CP_1 <- ClearCache {"status": "Accepted"} (') for line in lines[1:6:2]
    )
    assert lines[6:] == ["ClearCache: 3 of 3 accepted (1 station(s), 3 round(s))"]
    assert await cli_commands(outcome="answered").acount() == 3
    assert "currentTime" in await booted.heartbeat()  # no fourth CALL went out


async def test_repeated_default_sends_carry_new_request_ids(make_station):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    task, _, _ = start_command("CP_1", "GetBaseReport", "--count", "2", "--period", "0.01")
    ids = [(await client.answer())[3]["requestId"] for _ in range(2)]
    await finish(task)
    await client.close()
    assert ids[0] != ids[1]


async def test_a_call_error_is_printed_and_fails_the_command(booted):
    task, out, _ = start_command("CP_1", "ClearCache")
    call = await booted.receive()
    await booted.send([4, call[1], "NotSupported", "No cache here", {}])
    with pytest.raises(CommandError, match=r"not answered \(call error\)"):
        await finish(task)
    assert (
        out.getvalue()
        .splitlines()[1]
        .startswith("CP_1 <- ClearCache CALLERROR NotSupported: No cache here (")
    )
    assert await cli_commands(outcome="call_error").aexists()


async def test_a_station_that_is_not_connected_fails_the_command(make_station):
    await make_station("CP_OFF")
    await Station.objects.filter(pk="CP_OFF").aupdate(protocol="2.0.1")
    task, out, _ = start_command("CP_OFF", "ClearCache")
    with pytest.raises(CommandError, match="not connected"):
        await finish(task)
    assert out.getvalue().splitlines() == [
        "CP_OFF -> ClearCache {}",
        "CP_OFF <- ClearCache not connected",
    ]
    assert await cli_commands(station_id="CP_OFF", outcome="not_connected").aexists()


def test_a_plain_sync_caller_runs_the_command_in_a_loop_of_its_own(transactional_db):
    """What `manage.py` does: no event loop around, so `async_to_sync` makes one.
    (`transactional_db`: channels closes the connection around each ORM hop, which would end the
    `db` fixture's test transaction.)"""
    Station.objects.create(id="CP_OFF", protocol="1.6")
    out = io.StringIO()
    with pytest.raises(CommandError, match="not connected"):
        call_command("ocpp_command", "CP_OFF", "Reset", "--layer", stdout=out, stderr=io.StringIO())
    assert out.getvalue().splitlines() == [
        'CP_OFF -> Reset {"type": "Soft"}',
        "CP_OFF <- Reset not connected",
    ]
    assert cli_commands(station_id="CP_OFF").count() == 1


async def test_an_unknown_action_is_refused_with_the_valid_ones(booted, version):
    other = "GetVariables" if version == "1.6" else "GetConfiguration"
    task, out, _ = start_command("CP_1", other)
    with pytest.raises(CommandError) as refused:
        await finish(task)
    message = str(refused.value)
    assert f"{other} is not a command of OCPP {version}" in message
    assert all(action in message for action in CSMS_ACTIONS[version])
    assert out.getvalue() == ""
    assert "currentTime" in await booted.heartbeat()  # nothing was sent


async def test_a_payload_that_breaks_the_schema_is_refused_unsent(booted):
    task, _, _ = start_command("CP_1", "Reset", "--payload", '{"type": "Gentle"}')
    with pytest.raises(CommandError, match="Invalid Reset payload"):
        await finish(task)
    assert "currentTime" in await booted.heartbeat()
    assert not await cli_commands().aexists()


@pytest.mark.parametrize("payload", ['{"type": ', "[1, 2]", '"Soft"'])
def test_a_payload_that_is_not_a_json_object_is_refused(payload):
    with pytest.raises(CommandError, match="--payload"):
        call_command("ocpp_command", "CP_1", "Reset", "--payload", payload)


def test_an_unknown_station_is_refused(transactional_db):
    with pytest.raises(CommandError, match="No such station: NOBODY"):
        call_command("ocpp_command", "NOBODY", "ClearCache", "--layer")


def test_a_station_that_never_connected_needs_a_payload(transactional_db):
    Station.objects.create(id="CP_NEW")
    with pytest.raises(CommandError, match=r"OCPP version is unknown.*--payload"):
        call_command("ocpp_command", "CP_NEW", "ClearCache", "--layer")


def test_a_stop_without_a_transaction_is_refused_unsent(transactional_db):
    Station.objects.create(id="CP_D", protocol="2.0.1")
    out = io.StringIO()
    with pytest.raises(CommandError, match="no active transaction"):
        call_command("ocpp_command", "CP_D", "RequestStopTransaction", "--layer", stdout=out)
    assert out.getvalue() == "" and not cli_commands().exists()


async def test_a_timeout_on_the_in_memory_layer_hints_at_redis(make_station, monkeypatch):
    """A socket row whose channel nobody reads: what a separate process sees without Redis."""
    monkeypatch.setattr(delivery, "HOP_MARGIN_SECONDS", 0.0)
    await make_station("CP_ELSEWHERE")
    await Station.objects.filter(pk="CP_ELSEWHERE").aupdate(
        protocol="2.0.1", connected=True, channel_name="specific.elsewhere!nobody"
    )
    task, out, err = start_command("CP_ELSEWHERE", "ClearCache", "--timeout", "0.1")
    with pytest.raises(CommandError, match="timeout"):
        await finish(task)
    assert out.getvalue().splitlines()[1].startswith("CP_ELSEWHERE <- ClearCache timeout")
    assert "REDIS_URL" in err.getvalue()


# --- separate processes --------------------------------------------------------------------------


def command_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": servers.test_database_url(),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


async def spawn_command(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "ocpp_command",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@contextlib.asynccontextmanager
async def reaped(process: asyncio.subprocess.Process):
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def read_line_starting(process: asyncio.subprocess.Process, prefix: str) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(WAIT * 3):  # includes Django's start-up in a fresh interpreter
        while True:
            line = (await process.stdout.readline()).decode()
            assert line, f"exited before printing {prefix!r}"
            if line.startswith(prefix):
                return line


@pytest.mark.parametrize("in_flight", [False, True], ids=["between-sends", "during-a-send"])
async def test_ctrl_c_stops_cleanly(transactional_db, in_flight):
    fields: dict[str, Any] = {"protocol": "2.0.1"}
    if in_flight:
        # Connected as far as the database knows, on a worker nobody can reach: the send waits.
        fields.update(connected=True, channel_name="specific.elsewhere!nobody")
    await Station.objects.acreate(id="CP_CTRL_C", **fields)
    args = ["CP_CTRL_C", "ClearCache", "--layer"] + ([] if in_flight else ["--period", "0.05"])
    async with reaped(await spawn_command(*args, env=command_env())) as process:
        prefix = "CP_CTRL_C -> ClearCache" if in_flight else "CP_CTRL_C <- ClearCache"
        await read_line_starting(process, prefix)
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(WAIT):
            _, err = await process.communicate()
    stderr = err.decode()
    assert process.returncode == 1, stderr
    assert "Interrupted after" in stderr and "Traceback" not in stderr


@pytest.mark.live
async def test_a_separate_process_reaches_a_station_on_daphne_through_redis(transactional_db):
    require_service("Redis", "127.0.0.1", 6379)
    server = AsgiServer("daphne", {"REDIS_URL": "redis://127.0.0.1:6379/14"})
    await asyncio.to_thread(server.start)
    try:
        await Station.objects.acreate(id="CP_X")
        async with await LiveClient.open(server.url, "CP_X", open_timeout=WAIT) as station:
            assert (await station.boot())["status"] == "Accepted"

            command = await spawn_command("CP_X", "ClearCache", "--timeout", "10", env=server.env)
            async with reaped(command):
                call = await station.answer(timeout=WAIT * 3)
                assert call[2:] == ["ClearCache", {}]
                async with asyncio.timeout(WAIT * 2):
                    out, err = await command.communicate()
        lines = out.decode().splitlines()
        assert command.returncode == 0, err.decode() + server.output()
        assert lines[0] == "CP_X -> ClearCache {}"
        assert lines[1].startswith('CP_X <- ClearCache {"status": "Accepted"} (')
        recorded = await Command.objects.aget(station_id="CP_X")
        assert (recorded.source, recorded.outcome) == ("cli", "answered")
    finally:
        await asyncio.to_thread(server.stop)


# --- races with the socket's end, and the time given -----------------------------------------------


@pytest.fixture
def slow_replies(monkeypatch):
    """A reply's send takes a round trip, as over Redis (the in-memory layer's is instant)."""
    layer = get_channel_layer()
    assert layer is not None
    send = layer.send

    async def slow_send(channel: str, message: dict) -> None:
        if "outcome" in message:  # a command's reply, not the command itself
            await asyncio.sleep(0.05)
        await send(channel, message)

    monkeypatch.setattr(layer, "send", slow_send)


async def test_an_answer_given_just_before_the_station_closes_is_reported(
    make_station, slow_replies
):
    """A Reset is answered and the station closes its socket at once to reboot. The reply was
    still on its way to the command when the socket's end cancelled it: the command waited out
    its whole timeout and said "No reply from the station's worker" for an answered Reset."""
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    task, out, _ = start_command("CP_1", "Reset", "--timeout", "3")
    await client.answer()
    await client.close()
    started = time.monotonic()
    await finish(task)
    assert time.monotonic() - started < 1
    assert out.getvalue().splitlines()[1].startswith('CP_1 <- Reset {"status": "Accepted"} (')
    assert (await cli_commands().aget()).outcome == "answered"


async def test_commands_queued_behind_one_in_flight_end_when_the_socket_does(
    make_station, slow_replies, monkeypatch
):
    """One CALL at a time per station: the second command waits for the first. When the station
    goes away, each says so at once, not after its timeout as if nobody had answered."""
    calls: list[str] = []
    second_queued = asyncio.Event()
    call = RpcEndpoint.call

    async def counted_call(self: RpcEndpoint, action: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(action)
        if len(calls) == 2:  # it goes on at once to wait for the endpoint's lock, held by the first
            second_queued.set()
        return await call(self, action, *args, **kwargs)

    monkeypatch.setattr(RpcEndpoint, "call", counted_call)
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    first, out1, _ = start_command("CP_1", "ClearCache", "--timeout", "5")
    await client.receive()  # the first CALL is out; the second queues behind it
    second, out2, _ = start_command("CP_1", "ClearCache", "--timeout", "5")
    await asyncio.wait_for(second_queued.wait(), WAIT)
    started = time.monotonic()
    await client.close()
    for task in (first, second):
        with pytest.raises(CommandError, match="not connected"):
            await finish(task)
    assert time.monotonic() - started < 2
    for out in (out1, out2):
        assert out.getvalue().splitlines()[-1] == "CP_1 <- ClearCache not connected"


async def test_the_timeout_bounds_the_wait_for_a_worker_that_never_replies(make_station):
    """The station's socket is on a worker that is gone: the wait is --timeout plus a second for
    the hop, not the API's five."""
    await make_station("CP_ELSEWHERE")
    await Station.objects.filter(pk="CP_ELSEWHERE").aupdate(
        protocol="2.0.1", connected=True, channel_name="specific.elsewhere!nobody"
    )
    started = time.monotonic()
    task, out, _ = start_command("CP_ELSEWHERE", "ClearCache", "--timeout", "0.3")
    with pytest.raises(CommandError, match="timeout"):
        await finish(task)
    assert time.monotonic() - started < 0.3 + REPLY_MARGIN_SECONDS + 1
    assert out.getvalue().splitlines()[1].startswith("CP_ELSEWHERE <- ClearCache timeout")


# --- the process ends: its channel layer is closed, whatever redis-py makes of a cancellation ------


def swallow_one_cancellation(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Every pump's pop (`receive_single`) loses its cancellation, as redis-py's `asyncio.wait_for`
    does on Python 3.11 when the cancellation arrives just as a send completes; then it is back in
    BZPOPMIN. The event returned is set once a pump is in its pop."""
    popping = asyncio.Event()

    async def receive_single(self: ShieldedRedisChannelLayer, channel: str) -> Any:
        popping.set()
        try:  # noqa: SIM105 (a try that swallows the cancellation is the point)
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(3600)

    monkeypatch.setattr(ShieldedRedisChannelLayer, "receive_single", receive_single)
    return popping


async def test_closing_the_redis_layer_ends_a_pump_that_lost_its_cancellation(monkeypatch):
    popping = swallow_one_cancellation(monkeypatch)
    layer = ShieldedRedisChannelLayer(hosts=[{"address": "redis://127.0.0.1:6379/14"}])
    layer._ensure_pump("specific.test!")
    await asyncio.wait_for(popping.wait(), WAIT)
    async with asyncio.timeout(WAIT):
        await layer.close_pools()
    assert not layer._pumps


def test_the_command_ends_even_when_its_pump_loses_a_cancellation(
    transactional_db, settings, monkeypatch
):
    """What hung 4 runs in 33 after the answer was printed: `asyncio.run` cancels each task left
    once, and waited for ever for the pump that lost that cancellation. The command now closes
    the layer itself, cancelling until the pump is gone."""
    require_service("Redis", "127.0.0.1", 6379)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "csms_site.channel_layer.ShieldedRedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": "redis://127.0.0.1:6379/14"}],
                "prefix": f"csms-test-command-{os.getpid()}",
            },
        }
    }
    swallow_one_cancellation(monkeypatch)
    Station.objects.create(
        id="CP_GONE", protocol="2.0.1", connected=True, channel_name="specific.gone!nobody"
    )
    out, failures = io.StringIO(), []

    def run() -> None:  # a thread with no event loop, as `manage.py`: a loop of the command's own
        try:
            call_command("ocpp_command", "CP_GONE", "ClearCache", "--timeout", "0.2", stdout=out)
        except CommandError as error:
            failures.append(str(error))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "the command hung after: " + out.getvalue()
    assert failures == ["ClearCache to CP_GONE was not answered (timeout)"]


@pytest.mark.live
async def test_many_runs_in_a_row_each_answer_and_end(transactional_db):
    """The command as a process, against daphne through Redis, many times and a few at once
    (load makes the shutdown races likelier); every run must print the answer and exit 0 in
    time."""
    require_service("Redis", "127.0.0.1", 6379)
    server = AsgiServer("daphne", {"REDIS_URL": "redis://127.0.0.1:6379/13"})
    await asyncio.to_thread(server.start)
    try:
        await Station.objects.acreate(id="CP_RUNS")
        async with await LiveClient.open(server.url, "CP_RUNS", open_timeout=WAIT) as station:
            assert (await station.boot())["status"] == "Accepted"

            async def answer_every_call() -> None:
                async for text in station.ws:
                    frame = json.loads(text)
                    if frame[0] == 2:
                        await station.send([3, frame[1], {"status": "Accepted"}])

            answering = asyncio.create_task(answer_every_call())
            at_once = asyncio.Semaphore(3)

            async def one_run() -> tuple[int | None, str]:
                async with at_once:
                    process = await spawn_command(
                        "CP_RUNS", "ClearCache", "--timeout", "10", env=server.env
                    )
                    async with reaped(process):
                        try:
                            async with asyncio.timeout(WAIT * 3):
                                out, err = await process.communicate()
                        except TimeoutError:
                            return None, "hung"
                    return process.returncode, out.decode() + err.decode()

            runs = await asyncio.gather(*(one_run() for _ in range(RUNS)))
            answering.cancel()
    finally:
        await asyncio.to_thread(server.stop)
    hung = [output for code, output in runs if code is None]
    failed = [output for code, output in runs if code not in (0, None)]
    assert not hung and not failed, (hung, failed)
    assert all('CP_RUNS <- ClearCache {"status": "Accepted"}' in output for _, output in runs)


# --- several stations, every connected one -------------------------------------------------------


@pytest.fixture
async def open_station(
    transactional_db,
) -> AsyncIterator[Callable[[str, str], Awaitable[OcppTestClient]]]:
    """Register a station, connect and boot it; it is disconnected after the test."""
    opened: list[OcppTestClient] = []

    async def open_(identity: str, version: str) -> OcppTestClient:
        await Station.objects.acreate(id=identity)
        client, _, _ = await OcppTestClient.open(identity, version)
        opened.append(client)
        await client.boot()
        return client

    yield open_
    for client in opened:
        await client.close()


async def answer_each(*clients: OcppTestClient) -> None:
    """Each client in turn answers the next CALL it is sent, Accepted."""
    for client in clients:
        await client.answer()


async def test_all_sends_to_every_connected_station_with_its_own_default(open_station):
    cp1, cp16 = await open_station("CP_1", "2.0.1"), await open_station("CP_16", "1.6")
    await Station.objects.acreate(id="CP_OFF", protocol="2.0.1")  # not connected: left out
    task, out, _ = start_command("--all", "Reset")
    calls = {"CP_1": await cp1.receive(), "CP_16": await cp16.receive()}
    assert calls["CP_1"][2:] == ["Reset", RESET["2.0.1"]]
    assert calls["CP_16"][2:] == ["Reset", RESET["1.6"]]
    await cp1.send([3, calls["CP_1"][1], {"status": "Accepted"}])
    await cp16.send([3, calls["CP_16"][1], {"status": "Rejected"}])
    with pytest.raises(
        CommandError, match=r"1 of 2 Reset sends were not accepted.*CP_16.*Rejected"
    ):
        await finish(task)
    lines = out.getvalue().splitlines()
    assert sorted(line.split(" <- ")[0] for line in lines if " <- " in line) == ["CP_1", "CP_16"]
    assert lines[-1] == "Reset: 1 of 2 accepted (2 station(s), 1 round(s))"


async def test_all_with_a_period_looks_the_stations_up_again_each_round(open_station):
    cp1 = await open_station("CP_1", "2.0.1")
    task, out, _ = start_command("--all", "ClearCache", "--period", "0.3", "--count", "2")
    call = await cp1.receive()
    cp2 = await open_station("CP_2", "2.0.1")  # connects between the rounds
    await cp1.send([3, call[1], {"status": "Accepted"}])
    await answer_each(cp1, cp2)
    await finish(task)
    assert (
        out.getvalue().splitlines()[-1] == "ClearCache: 3 of 3 accepted (2 station(s), 2 round(s))"
    )


async def test_named_stations_are_all_checked_before_anything_is_sent(booted):
    task, out, _ = start_command("CP_1", "NOPE", "ClearCache")
    with pytest.raises(CommandError, match="No such station: NOPE"):
        await finish(task)
    assert out.getvalue() == ""
    assert "currentTime" in await booted.heartbeat()  # CP_1 got nothing either


async def test_several_named_stations_each_get_the_command(open_station):
    cp1, cp2 = await open_station("CP_1", "2.0.1"), await open_station("CP_2", "2.0.1")
    task, out, _ = start_command("CP_1", "CP_2", "ClearCache")
    await answer_each(cp1, cp2)
    await finish(task)
    assert (
        out.getvalue().splitlines()[-1] == "ClearCache: 2 of 2 accepted (2 station(s), 1 round(s))"
    )


async def test_an_answer_that_declines_fails_the_command(booted):
    task, out, _ = start_command("CP_1", "ClearCache")
    await booted.answer({"status": "Rejected"})
    with pytest.raises(CommandError, match="ClearCache to CP_1 was answered Rejected"):
        await finish(task)
    assert out.getvalue().splitlines()[1].startswith('CP_1 <- ClearCache {"status": "Rejected"}')


async def test_all_with_no_station_connected_fails(transactional_db):
    task, _, err = start_command("--all", "ClearCache")
    with pytest.raises(CommandError, match="none is connected"):
        await finish(task)
    assert "no station is connected" in err.getvalue()


@pytest.mark.parametrize("targets", [["--all", "CP_1", "Reset"], ["Reset"]])
def test_stations_are_named_or_all_not_both_nor_neither(targets):
    with pytest.raises(CommandError, match="--all"):
        call_command("ocpp_command", *targets)


@pytest.mark.parametrize(
    ("answer", "declined"),
    [
        ({"status": "Accepted"}, None),
        ({"status": "Scheduled"}, None),
        ({"status": "Unlocked"}, None),
        ({"status": "RebootRequired"}, None),
        ({"status": "Rejected"}, "Rejected"),
        ({"status": "UnlockFailed"}, "UnlockFailed"),
        ({"status": "EmptyResultSet"}, "EmptyResultSet"),
        ({"configurationKey": [], "unknownKey": []}, None),
        ({"setVariableResult": [{"attributeStatus": "Accepted"}]}, None),
        ({"setVariableResult": [{"attributeStatus": "UnknownVariable"}]}, "UnknownVariable"),
        ({"listVersion": 3}, None),
    ],
)
def test_which_answers_accept(answer, declined):
    assert declined_status(answer) == declined


# --- through the REST API ----------------------------------------------------------------------------


@pytest.fixture
def api_in_process(monkeypatch):
    """The command's HTTP exchanges go to the API's views in this test's loop, where the stations'
    sockets live (the views reach them over the in-memory layer). Returns what was asked."""
    asked: list[tuple[str, str, str]] = []

    async def fetch(self, method, url, body, timeout):
        parts = urllib.parse.urlsplit(url)
        asked.append((method, parts.path + ("?" + parts.query if parts.query else ""), self.token))
        client = TokenClient(self.token)
        response = await client.generic(
            method,
            asked[-1][1],
            json.dumps(body) if body is not None else "",
            content_type="application/json",
        )
        return response.status_code, response.content

    monkeypatch.setattr(ApiTransport, "fetch", fetch)
    return asked


async def test_without_redis_the_command_uses_the_api_with_a_service_users_token(
    booted, version, api_in_process
):
    """What the two-terminal walk-through needs: no REDIS_URL, no option; the API of `make run`
    with the token of a staff service user taken from the shared database."""
    task, out, _ = start_command("CP_1", "Reset", way="")
    call = await booted.answer()
    assert call[2:] == ["Reset", RESET[version]]
    await finish(task)
    assert out.getvalue().splitlines()[1].startswith('CP_1 <- Reset {"status": "Accepted"} (')
    user = await get_user_model().objects.aget(username=SERVICE_USER)
    assert user.is_staff and not user.has_usable_password()
    token = await Token.objects.aget(user=user)
    assert {key for _, _, key in api_in_process} == {token.key}
    assert [(method, path) for method, path, _ in api_in_process] == [
        ("GET", "/api/stations/CP_1/"),
        ("GET", "/api/stations/CP_1/commands/Reset/"),  # the default payload
        ("POST", "/api/stations/CP_1/commands/Reset/"),
    ]
    recorded = await Command.objects.select_related("requested_by").aget()
    assert recorded.requested_by is not None
    assert (recorded.outcome, recorded.requested_by.username) == ("answered", SERVICE_USER)


async def test_over_the_api_all_lists_the_connected_stations(open_station, api_in_process):
    cp1, cp2 = await open_station("CP_1", "2.0.1"), await open_station("CP_2", "1.6")
    task, out, _ = start_command("--all", "ClearCache", "--timeout", "5", way="--api")
    await answer_each(cp1, cp2)
    await finish(task)
    assert (
        out.getvalue().splitlines()[-1] == "ClearCache: 2 of 2 accepted (2 station(s), 1 round(s))"
    )
    assert ("GET", "/api/cp_ids/") in [(m, p) for m, p, _ in api_in_process]
    posts = [path for method, path, _ in api_in_process if method == "POST"]
    assert all(path.endswith("/commands/ClearCache/?timeout=5.0") for path in posts)


async def test_over_the_api_a_timeout_is_the_stations_time(booted, api_in_process):
    started = time.monotonic()
    task, out, _ = start_command("CP_1", "ClearCache", "--timeout", "0.3", way="--api")
    await booted.receive()  # and never answered
    with pytest.raises(CommandError, match=r"not answered \(timeout\)"):
        await finish(task)
    assert time.monotonic() - started < 0.3 + REPLY_MARGIN_SECONDS + 1.5
    assert out.getvalue().splitlines()[1].startswith("CP_1 <- ClearCache timeout: CP_1 did not")


async def test_over_the_api_errors_read_as_in_the_shell(booted, version, api_in_process):
    task, _, _ = start_command("CP_1", STOP[version], way="--api")
    with pytest.raises(CommandError, match=r"no active transaction.*with --payload"):
        await finish(task)
    task, _, _ = start_command("CP_1", "ClearCache", "--payload", '{"x": 1}', way="--api")
    with pytest.raises(CommandError, match="Invalid ClearCache payload"):
        await finish(task)
    assert "currentTime" in await booted.heartbeat()  # nothing was sent


async def test_over_the_api_a_refused_token_says_so(booted, api_in_process):
    task, _, _ = start_command("CP_1", "ClearCache", "--token", "wrong", way="--api")
    with pytest.raises(CommandError, match=r"refused the token \(HTTP 401\)"):
        await finish(task)


def test_a_driver_cannot_lend_the_command_a_token(transactional_db):
    get_user_model().objects.create_user("driver", password="pw")
    with pytest.raises(CommandError, match="not an active staff user"):
        call_command("ocpp_command", "CP_1", "ClearCache", "--api", "--user", "driver")


def test_an_api_nobody_serves_is_named_with_what_to_do(transactional_db):
    url = f"http://127.0.0.1:{servers.free_port()}"
    with pytest.raises(CommandError, match=rf"Cannot reach the CSMS API at {url}.*make run"):
        call_command("ocpp_command", "CP_1", "ClearCache", "--api", url, "--token", "t")


@pytest.mark.live
async def test_the_two_terminal_walk_through_works_without_redis(transactional_db):
    """`make run` (daphne, in-memory layer) in one terminal, the command in another: it goes
    through the server's API, with the URL from CSMS_API_URL and a token of its own."""
    server = AsgiServer("daphne")
    await asyncio.to_thread(server.start)
    try:
        await Station.objects.acreate(id="CP_W")
        async with await LiveClient.open(server.url, "CP_W", open_timeout=WAIT) as station:
            assert (await station.boot())["status"] == "Accepted"
            env = command_env(CSMS_API_URL=server.http_url)
            env.pop("REDIS_URL", None)
            command = await spawn_command(
                "CP_W", "Reset", "--period", "0.2", "--count", "2", env=env
            )
            async with reaped(command):
                for _ in range(2):
                    call = await station.answer(timeout=WAIT * 3)
                    assert call[2:] == ["Reset", RESET["2.0.1"]]
                async with asyncio.timeout(WAIT * 2):
                    out, err = await command.communicate()
        assert command.returncode == 0, err.decode() + server.output()
        lines = out.decode().splitlines()
        assert lines[1].startswith('CP_W <- Reset {"status": "Accepted"} (')
        assert lines[-1] == "Reset: 2 of 2 accepted (1 station(s), 2 round(s))"
    finally:
        await asyncio.to_thread(server.stop)
