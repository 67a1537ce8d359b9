"""Liveness: stations that vanish without closing their socket are found and marked offline, and
the transactions they leave open are flagged for the operator with an audit trail.

The end-to-end tests put `tests.tcp_proxy.TcpProxy` between a real station client and a real ASGI
server process; freezing it makes the socket half-open, as a dead mobile link does.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from datetime import timedelta

import pytest
import websockets
from channels.db import database_sync_to_async
from django.test import Client, override_settings

from stations.clock import utcnow
from stations.models import FlagReason, RegistrationStatus, Station, StationEvent, Transaction
from stations.services import liveness
from tests.ocpp_client import OcppTestClient, boot_payload, connect_ws
from tests.servers import AsgiServer
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)

T0 = "2026-01-18T12:00:00Z"


@database_sync_to_async
def register(*identities: str) -> None:
    for identity in identities:
        Station.objects.create(
            id=identity,
            registration_status=RegistrationStatus.ACCEPTED,
            boot_status=RegistrationStatus.ACCEPTED,
        )


@database_sync_to_async
def row(identity: str) -> Station:
    return Station.objects.get(pk=identity)


@database_sync_to_async
def event_types(identity: str) -> list[str]:
    return list(
        StationEvent.objects.filter(station_id=identity)
        .order_by("created_at", "id")
        .values_list("type", flat=True)
    )


async def until_offline(identity: str, timeout: float) -> float:
    """Seconds until the row says offline. The server process gives the test no event to wait
    on, so the row is read every 50 ms until the deadline."""
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        while (await row(identity)).connected:  # noqa: ASYNC110 (another process's database)
            await asyncio.sleep(0.05)
    return time.monotonic() - start


async def connect(url: str, identity: str) -> websockets.ClientConnection:
    ws = await connect_ws(url, identity, "1.6", ping_interval=None)
    await ws.send(json.dumps([2, "b", "BootNotification", boot_payload("1.6")]))
    assert '"Accepted"' in await ws.recv()
    return ws


async def heartbeat(ws: websockets.ClientConnection, n: int) -> None:
    """A Heartbeat and its answer; answers to earlier ones still in flight (a chat cancelled
    between its CALL and the answer) are passed over."""
    await ws.send(f'[2,"hb{n}","Heartbeat",{{}}]')
    async with asyncio.timeout(10):
        while True:
            answer = json.loads(await ws.recv())
            if answer[1] == f"hb{n}":
                assert answer[0] == 3, answer
                return


# --- half-open sockets, end to end ---------------------------------------------------------------


async def test_a_half_open_socket_is_found_by_websocket_pings_on_uvicorn():
    """Pings alone (the silence watch off): uvicorn gets no pong through the frozen link."""
    await register("HALF_1")
    server = AsgiServer(
        "uvicorn",
        env={
            "UVICORN_WS_PING_INTERVAL": "0.5",
            "UVICORN_WS_PING_TIMEOUT": "0.5",
            "OCPP_SILENCE_TIMEOUT": "0",
        },
    ).start()
    proxy = TcpProxy("127.0.0.1", server.port).start()
    try:
        ws = await connect(f"ws://127.0.0.1:{proxy.port}", "HALF_1")
        assert (await row("HALF_1")).connected
        proxy.freeze()
        took = await until_offline("HALF_1", timeout=15)
        assert took < 10, took
        assert "Disconnected" in await event_types("HALF_1")
        assert "SilenceTimeout" not in await event_types("HALF_1")
        ws.transport.abort()
    finally:
        proxy.stop()
        server.stop()


async def test_a_half_open_socket_is_closed_by_the_silence_watch_when_pings_do_not_help():
    """daphne pings only every 20 s: the silence watch (1 s here) marks the station offline first,
    without waiting for a close handshake the frozen link never completes."""
    await register("HALF_2")
    server = AsgiServer("daphne", env={"OCPP_SILENCE_TIMEOUT": "1"}).start()
    proxy = TcpProxy("127.0.0.1", server.port).start()
    try:
        ws = await connect(f"ws://127.0.0.1:{proxy.port}", "HALF_2")
        proxy.freeze()
        took = await until_offline("HALF_2", timeout=15)
        assert took < 5, took
        events = await event_types("HALF_2")
        assert events.count("SilenceTimeout") == 1, events
        assert "Silent for longer" in server.output() or "no frame for" in server.output()
        ws.transport.abort()
    finally:
        proxy.stop()
        server.stop()


async def test_a_silent_station_is_closed_with_4001_and_a_chatty_one_is_not():
    await register("QUIET", "CHATTY")
    server = AsgiServer("uvicorn", env={"OCPP_SILENCE_TIMEOUT": "1"}).start()
    try:
        quiet = await connect(server.url, "QUIET")
        chatty = await connect(server.url, "CHATTY")
        closed = asyncio.ensure_future(quiet.wait_closed())
        n = 0
        while not closed.done():  # the chatty station talks until the quiet one is closed...
            n += 1
            await heartbeat(chatty, n)
            await asyncio.wait({closed}, timeout=0.25)
        assert quiet.close_code == 4001, quiet.close_code
        assert not (await row("QUIET")).connected
        for _ in range(8):  # ...and then for two more timeouts, and stays connected
            n += 1
            await heartbeat(chatty, n)
            await asyncio.sleep(0.25)  # the station's pace: it talks through two timeouts
        assert (await row("CHATTY")).connected
        assert "SilenceTimeout" in await event_types("QUIET")
        assert "SilenceTimeout" not in await event_types("CHATTY")
        await chatty.close()
    finally:
        server.stop()


async def test_stations_of_a_killed_worker_are_marked_offline_by_the_next_one():
    """SIGKILL leaves the row connected; a worker started afterwards finds it stale and releases
    it, while the station that connected to it stays online.

    Nothing here depends on an idle machine (issue 13.12): the newcomer keeps talking while the
    test waits, as a live station does, so however long the sweep takes under load the silence
    watch never has a reason to close it; the only bound is a generous deadline."""
    await register("ORPHAN", "NEWCOMER")
    env = {
        "OCPP_SILENCE_TIMEOUT": "1",
        # A cluster lock of their own: on PostgreSQL the release of dead workers' rows is a cluster
        # job, and a server another test left running on this database may hold the shared lock.
        "DJANGO_SETTINGS_MODULE": "tests.lifespan_settings",
        "BACKGROUND_LOCK_NAME": f"liveness {uuid.uuid4()}",
    }
    first = AsgiServer("daphne", env=env).start()
    assert first.process is not None
    orphan = await connect(first.url, "ORPHAN")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    orphan.transport.abort()
    assert (await row("ORPHAN")).connected  # nothing was left alive to say otherwise
    second = AsgiServer("daphne", env=env).start()
    try:
        newcomer = await connect(second.url, "NEWCOMER")
        chatting = asyncio.create_task(chat(newcomer, every=0.2))
        try:
            await until_offline("ORPHAN", timeout=60)
        finally:
            chatting.cancel()
            await asyncio.gather(chatting, return_exceptions=True)
        assert "PresumedOffline" in await event_types("ORPHAN")
        await heartbeat(newcomer, 1_000_000)  # an id the chat never used
        assert (await row("NEWCOMER")).connected
        assert "PresumedOffline" not in await event_types("NEWCOMER")
        await newcomer.close()
    finally:
        second.stop()


async def chat(ws: websockets.ClientConnection, *, every: float) -> None:
    """A live station's traffic: a Heartbeat, answered, then the next one `every` seconds later."""
    n = 0
    while True:
        n += 1
        await heartbeat(ws, n)
        await asyncio.sleep(every)


# --- the sweep, in process -----------------------------------------------------------------------


@override_settings(OCPP_SILENCE_TIMEOUT=60, OCPP_PRESENCE_FLUSH_SECONDS=5)
def test_only_rows_older_than_any_live_worker_allows_are_presumed_offline():
    now = utcnow()
    cutoff = liveness.dead_connection_cutoff()
    assert cutoff == 130
    Station.objects.create(
        id="DEAD", connected=True, session=3, last_seen_at=now - timedelta(seconds=cutoff + 1)
    )
    Station.objects.create(
        id="QUIET", connected=True, session=1, last_seen_at=now - timedelta(seconds=cutoff - 10)
    )
    assert "DEAD" in liveness.mark_dead_connections_offline()
    assert not Station.objects.get(pk="DEAD").connected
    assert Station.objects.get(pk="QUIET").connected
    event = StationEvent.objects.get(station_id="DEAD")
    assert (event.type, event.data["session"]) == ("PresumedOffline", 3)
    assert liveness.mark_dead_connections_offline() == ""  # nothing left to do


@override_settings(OCPP_SILENCE_TIMEOUT=0)
def test_the_sweep_is_off_with_the_silence_watch():
    Station.objects.create(id="OLD", connected=True, last_seen_at=utcnow() - timedelta(days=9))
    assert liveness.mark_dead_connections_offline() == ""
    assert Station.objects.get(pk="OLD").connected


# --- open transactions ---------------------------------------------------------------------------


async def start_16(client: OcppTestClient) -> int:
    start = await client.result(
        "StartTransaction", {"connectorId": 1, "idTag": "TAG", "meterStart": 100, "timestamp": T0}
    )
    return start["transactionId"]


async def test_a_16_reboot_flags_the_open_transaction_and_its_next_message_clears_it(
    make_station,
):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "1.6")
    await client.boot()
    tx_id = await start_16(client)
    await client.close()

    client, _, _ = await OcppTestClient.open("CP_1", "1.6")
    await client.boot()  # the station booted again: it may have lost the transaction
    tx = await Transaction.objects.aget(pk=tx_id)
    assert tx.is_active and tx.flag_reason == FlagReason.STATION_REBOOTED and tx.flagged_at
    await client.boot()  # a second boot does not flag it twice
    flagged = [e async for e in StationEvent.objects.filter(type="TransactionFlagged")]
    assert len(flagged) == 1 and flagged[0].kind == "audit"
    assert flagged[0].data == {"transaction": tx_id, "reason": "StationRebooted"}

    meter = {
        "connectorId": 1,
        "transactionId": tx_id,
        "meterValue": [{"timestamp": T0, "sampledValue": [{"value": "150"}]}],
    }
    assert await client.result("MeterValues", meter) == {}
    tx = await Transaction.objects.aget(pk=tx_id)
    assert tx.flagged_at is None and tx.flag_reason == ""
    cleared = await StationEvent.objects.aget(type="TransactionFlagCleared")
    assert cleared.data["action"] == "MeterValues" and cleared.kind == "audit"
    await client.close()


async def test_a_16_stop_after_a_reboot_clears_the_flag_and_stops_it(make_station):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "1.6")
    await client.boot()
    tx_id = await start_16(client)
    await client.boot()
    stop = {"transactionId": tx_id, "meterStop": 900, "timestamp": T0, "reason": "Reboot"}
    await client.result("StopTransaction", stop)
    tx = await Transaction.objects.aget(pk=tx_id)
    assert not tx.is_active and tx.flagged_at is None and tx.energy_wh == 800
    await client.close()


async def test_a_201_boot_flags_open_transactions_unless_the_csms_triggered_it(make_station):
    await make_station("CP_2")
    client, _, _ = await OcppTestClient.open("CP_2", "2.0.1")
    await client.boot()
    event = {
        "eventType": "Started",
        "timestamp": T0,
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "T-1"},
        "evse": {"id": 1, "connectorId": 1},
    }
    await client.result("TransactionEvent", event)
    triggered = boot_payload("2.0.1")
    triggered["reason"] = "Triggered"
    await client.result("BootNotification", triggered)
    assert (await Transaction.objects.aget(ocpp_id="T-1")).flagged_at is None

    await client.boot()  # reason PowerUp
    assert (await Transaction.objects.aget(ocpp_id="T-1")).flag_reason == "StationRebooted"
    update = {**event, "eventType": "Updated", "seqNo": 1, "triggerReason": "MeterValuePeriodic"}
    await client.result("TransactionEvent", update)
    assert (await Transaction.objects.aget(ocpp_id="T-1")).flagged_at is None
    cleared = await StationEvent.objects.aget(type="TransactionFlagCleared")
    assert cleared.data["action"] == "TransactionEvent"
    await client.close()


@override_settings(OCPP_STALE_TRANSACTION_AFTER=3600)
def test_open_transactions_of_long_offline_stations_are_flagged_once():
    now = utcnow()
    Station.objects.create(id="GONE", disconnected_at=now - timedelta(hours=2))
    Station.objects.create(id="BRIEF", disconnected_at=now - timedelta(minutes=5))
    Station.objects.create(id="ONLINE", connected=True, disconnected_at=now - timedelta(days=1))
    for station in ("GONE", "BRIEF", "ONLINE"):
        Transaction.objects.create(station_id=station, evse_id=1, started_at=now)
    Transaction.objects.create(
        station_id="GONE", evse_id=2, started_at=now, is_active=False, stopped_at=now
    )
    assert liveness.flag_stale_transactions() == "flagged 1 open transactions of offline stations"
    flagged = Transaction.objects.exclude(flagged_at=None)
    assert [(t.station_id, t.flag_reason) for t in flagged] == [("GONE", "StationOffline")]
    assert liveness.flag_stale_transactions() == ""
    assert StationEvent.objects.filter(type="TransactionFlagged").count() == 1


@override_settings(OCPP_STALE_TRANSACTION_AFTER=0)
def test_stale_transaction_flagging_can_be_turned_off():
    Station.objects.create(id="GONE", disconnected_at=utcnow() - timedelta(days=30))
    Transaction.objects.create(station_id="GONE", evse_id=1, started_at=utcnow())
    assert liveness.flag_stale_transactions() == ""
    assert not Transaction.objects.exclude(flagged_at=None).exists()


# --- what the operator sees ----------------------------------------------------------------------


def test_operators_find_flagged_transactions_in_the_api_dashboard_and_admin(admin_user):
    now = utcnow()
    Station.objects.create(id="CP_F")
    flagged = Transaction.objects.create(
        station_id="CP_F",
        evse_id=1,
        started_at=now,
        flagged_at=now,
        flag_reason=FlagReason.STATION_REBOOTED,
    )
    fine = Transaction.objects.create(station_id="CP_F", evse_id=2, started_at=now)
    client = Client()
    client.force_login(admin_user)

    api = client.get("/api/transactions/?flagged=true").json()
    assert [t["id"] for t in api["results"]] == [flagged.pk]
    assert api["results"][0]["flag_reason"] == "StationRebooted"
    assert [t["id"] for t in client.get("/api/transactions/?flagged=false").json()["results"]] == [
        fine.pk
    ]

    assert client.get("/summary.json").json()["flagged_transactions"] == 1
    page = client.get("/transactions/?active=flagged").content.decode()
    assert f'data-transaction="{flagged.pk}"' in page
    assert f'data-transaction="{fine.pk}"' not in page
    assert "Station rebooted with it open" in page

    admin = client.get("/admin/stations/transaction/?flag_reason=StationRebooted").content.decode()
    assert f"/admin/stations/transaction/{flagged.pk}/change/" in admin
    assert f"/admin/stations/transaction/{fine.pk}/change/" not in admin
