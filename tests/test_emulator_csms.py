"""The emulator against our CSMS, end to end: a real daphne process on the test database, emulated
stations of both versions charging through it, and `manage.py emulate --once` as an operator runs it.

What the CSMS stores must be what the station metered: the same transaction, every sample it sent,
and the meter readings at start and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.db import database_sync_to_async

from emulator.station import StationOptions
from stations.models import Connector, IdToken, MeterSample, Station, Transaction
from stations.passwords import make_station_password
from tests.emulated import WatchedStation, shut_down
from tests.servers import ROOT

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10.0
TAG = "EMU-CARD-1"
ENERGY = "Energy.Active.Import.Register"


@database_sync_to_async
def register(identity: str, *, registration: str = "Accepted", password: str | None = None):
    Station.objects.create(
        id=identity,
        registration_status=registration,
        password_hash=make_station_password(password) if password else "",
    )


@database_sync_to_async
def allow(tag: str) -> None:
    IdToken.objects.get_or_create(token=tag)


@contextlib.asynccontextmanager
async def emulated(
    url: str, identity: str, version: str, **options: Any
) -> AsyncIterator[WatchedStation]:
    """A running emulated station that records every CALL it sends."""
    station = WatchedStation(
        StationOptions(
            identity=identity,
            url=f"{url}/ocpp/",
            protocol=version,
            meter_interval=0.1,
            call_timeout=TIMEOUT,
            **options,
        ),
        rng=random.Random(3),
    )
    task = asyncio.create_task(station.run())
    try:
        await asyncio.wait_for(station.online.wait(), TIMEOUT)
        yield station
    finally:
        await shut_down(station, task, 2)


def sent_samples(station: WatchedStation) -> list[tuple[str, str, float]]:
    """(measurand, context, value) of every sampled value the station sent in a transaction."""
    found = []
    for action, payload in station.sent:
        if action not in ("MeterValues", "StopTransaction", "TransactionEvent"):
            continue
        for meter_value in payload.get("meterValue") or payload.get("transactionData") or []:
            for value in meter_value["sampledValue"]:
                found.append(
                    (
                        value.get("measurand", ENERGY),
                        value.get("context", "Sample.Periodic"),
                        float(value["value"]),
                    )
                )
    return sorted(found)


@database_sync_to_async
def stored(identity: str) -> tuple[Transaction, list[tuple[str, str, float]]]:
    tx = Transaction.objects.get(station_id=identity)
    samples = sorted(
        MeterSample.objects.filter(transaction=tx).values_list("measurand", "context", "value")
    )
    return tx, samples


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_driver_session_is_stored_as_the_station_metered_it(live_daphne, version):
    identity = f"EMU_SESSION_{version.replace('.', '')}"
    await register(identity)
    await allow(TAG)
    async with emulated(live_daphne.url, identity, version) as station:
        assert station.boot_answer is not None and station.boot_answer["status"] == "Accepted"
        start_wh = station.connectors[1].meter_wh
        assert await station.session(1, TAG, 0.5)
        await asyncio.wait_for(station.outbox_drained(), TIMEOUT)
        stop_wh = station.connectors[1].meter_wh
        assert station.stats.dropped == 0

    tx, samples = await stored(identity)
    assert not tx.is_active and tx.evse_id == 1 and tx.id_token == TAG
    assert tx.stop_reason == "EVDisconnected"
    assert samples == sent_samples(station)
    assert sum(1 for s in samples if s[1] == "Sample.Periodic" and s[0] == ENERGY) >= 3
    if version == "1.6":
        start = next(p for a, p in station.sent if a == "StartTransaction")
        assert tx.meter_start_wh == start["meterStart"] == int(start_wh)
        assert tx.meter_stop_wh == int(stop_wh)
        assert tx.energy_wh == int(stop_wh) - int(start_wh)
        assert {p["transactionId"] for a, p in station.sent if a == "MeterValues"} == {tx.pk}
    else:
        events = [p for a, p in station.sent if a == "TransactionEvent"]
        assert tx.ocpp_id == events[0]["transactionInfo"]["transactionId"]
        assert tx.last_seq_no == len(events) - 1 and not tx.offline
        assert tx.meter_start_wh == round(start_wh, 1)
        assert tx.meter_stop_wh == round(stop_wh, 1)
        assert tx.energy_wh == pytest.approx(round(stop_wh, 1) - round(start_wh, 1), abs=0.05)
    assert tx.energy_wh > 0
    connector = await Connector.objects.aget(station_id=identity, evse_id=1)
    assert connector.status == "Available"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_two_connectors_charge_at_once(live_daphne, version):
    identity = f"EMU_TWIN_{version.replace('.', '')}"
    await register(identity)
    await allow(TAG)
    async with emulated(live_daphne.url, identity, version, connectors=2) as station:
        first, second = await asyncio.gather(
            station.session(1, TAG, 0.4), station.session(2, TAG, 0.3)
        )
        assert first and second
        await asyncio.wait_for(station.outbox_drained(), TIMEOUT)

    @database_sync_to_async
    def transactions() -> dict[int, Transaction]:
        return {tx.evse_id: tx for tx in Transaction.objects.filter(station_id=identity)}

    stored_txs = await transactions()
    assert set(stored_txs) == {1, 2}
    for evse_id, tx in stored_txs.items():
        assert not tx.is_active
        metered = station.connectors[evse_id].meter_wh
        expected = int(metered) if version == "1.6" else round(metered, 1)
        assert tx.meter_stop_wh == expected


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_messages_queued_while_the_connection_was_lost_are_stored(live_daphne, version):
    identity = f"EMU_OFFLINE_{version.replace('.', '')}"
    await register(identity)
    await allow(TAG)
    async with emulated(live_daphne.url, identity, version) as station:
        station.device.settings["RetryBackOffWaitMinimum"].value = "1"  # offline for 1 s
        station.device.settings["RetryBackOffRandomRange"].value = "0"
        assert await station.start_transaction(1, TAG) is not None
        await asyncio.wait_for(station.outbox_drained(), TIMEOUT)
        station.drop_connection()  # power cut on the line: no closing handshake
        await station.until(lambda: not station.online.is_set())
        await station.until(lambda: len(station.outbox) >= 3)
        assert await station.stop_transaction(1, "Local")
        queued = len(station.outbox)
        await asyncio.wait_for(station.online.wait(), TIMEOUT)
        await asyncio.wait_for(station.outbox_drained(), TIMEOUT)
        stop_wh = station.connectors[1].meter_wh
        assert station.stats.connects == 2 and station.stats.dropped == 0

    tx, samples = await stored(identity)
    assert not tx.is_active and tx.stop_reason == "Local"
    assert samples == sent_samples(station)
    if version == "1.6":
        assert tx.meter_stop_wh == int(stop_wh)
        stops = [p for a, p in station.sent if a == "StopTransaction"]
        assert [p["transactionId"] for p in stops] == [tx.pk]
    else:
        events = [p for a, p in station.sent if a == "TransactionEvent"]
        assert tx.offline and tx.last_seq_no == len(events) - 1
        assert tx.meter_stop_wh == round(stop_wh, 1)
        assert sum(1 for p in events if p.get("offline")) >= queued

        @database_sync_to_async
        def stored_offline_flags() -> list[tuple[int, bool]]:
            return list(tx.events.order_by("seq_no").values_list("seq_no", "offline"))

        assert await stored_offline_flags() == [
            (p["seqNo"], bool(p.get("offline"))) for p in events
        ]


# --- manage.py emulate --once ------------------------------------------------------------------


def emulate_once(server, identity: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "manage.py",
            "emulate",
            identity,
            "--once",
            "--url",
            f"{server.url}/ocpp/",
            *args,
        ],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_emulate_once_boots_an_accepted_station(live_daphne, version):
    identity = f"EMU_ONCE_{version.replace('.', '')}"
    Station.objects.create(id=identity, registration_status="Accepted")
    done = emulate_once(live_daphne, identity, "--protocol", version)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{identity}: BootNotification" in done.stdout and "Accepted" in done.stdout
    station = Station.objects.get(pk=identity)
    assert station.vendor == "CSMS-Emulator" and station.model == "Virtual-1"
    assert station.protocol == version


def test_emulate_once_fails_for_a_rejected_station(live_daphne):
    Station.objects.create(id="EMU_REJECTED", registration_status="Rejected")
    done = emulate_once(live_daphne, "EMU_REJECTED")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "'status': 'Rejected'" in done.stdout


def test_emulate_once_with_a_wrong_password_is_refused(live_daphne):
    password = "the-right-password-0001"
    Station.objects.create(
        id="EMU_GUARDED",
        registration_status="Accepted",
        password_hash=make_station_password(password),
    )
    refused = emulate_once(live_daphne, "EMU_GUARDED", "--password", "a-wrong-password-0002")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "EMU_GUARDED" in refused.stderr and "HTTP 403" in refused.stderr
    assert "BootNotification" not in refused.stdout
    accepted = emulate_once(live_daphne, "EMU_GUARDED", "--password", password)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_duplicated_and_reordered_messages_are_stored_exactly_once(live_daphne, version):
    """Fault injection: every transaction message sent twice, meter messages swapped in pairs.
    The CSMS must store each transaction, event and sample once, with the right energy."""
    identity = f"EMU_FAULTS_{version.replace('.', '')}"
    await register(identity)
    await allow(TAG)
    async with emulated(
        live_daphne.url, identity, version, duplicate_messages=True, out_of_order=True
    ) as station:
        start_wh = station.connectors[1].meter_wh
        assert await station.session(1, TAG, 0.6)
        await asyncio.wait_for(station.outbox_drained(), TIMEOUT)
        stop_wh = station.connectors[1].meter_wh
    transactional = {"StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent"}
    sent = [a for a, _ in station.sent if a in transactional]
    assert len(sent) >= 8 and len(sent) % 2 == 0  # every one of them went out twice

    tx, samples = await stored(identity)  # .get(): exactly one transaction
    # A resend is the same message: counted once, every sample in it must be stored once.
    station.sent = list({json.dumps(m, sort_keys=True): m for m in station.sent}.values())
    assert samples == sent_samples(station)
    assert not tx.is_active and tx.energy_wh == pytest.approx(stop_wh - start_wh, abs=1)
    if version == "2.0.1":
        events = await database_sync_to_async(
            lambda: list(tx.events.values_list("seq_no", flat=True))
        )()
        assert sorted(events) == list(range(len(events)))  # each seqNo applied once, no gap


async def test_a_skewed_station_clock_shows_in_the_stored_times(live_daphne):
    await register("EMU_SKEW")
    await allow(TAG)
    async with emulated(live_daphne.url, "EMU_SKEW", "2.0.1", clock_skew_seconds=3600) as station:
        assert await station.session(1, TAG, 0.2)
        await asyncio.wait_for(station.outbox_drained(), TIMEOUT)
    tx, _ = await stored("EMU_SKEW")
    skew = (tx.started_at - tx.created_at).total_seconds()
    assert 3590 < skew < 3610
