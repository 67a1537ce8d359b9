"""The batch forms of the meter services (stations.group_commit.applies_many): a batch of many
stations' readings costs a few statements in all, and leaves exactly what one message at a time
would have left, the uncommon cases included (they go through the single form)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stations import group_commit
from stations.models import IdToken, MeterSample, Station, StationEvent, Transaction
from stations.ocpp.readings import samples_16, samples_201
from stations.services.transactions import (
    MeterReport,
    StartTransaction,
    TransactionUpdate,
    meter_values_16,
    transaction_event_201,
    transaction_start_16,
)
from tests.test_query_budget import statements

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)
N = 12


def reading(version: str, wh: int, at: datetime) -> list:
    stamp = at.isoformat().replace("+00:00", "Z")
    values: list[dict[str, Any]]
    if version == "1.6":
        values = [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register"},
            {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"},
        ]
        return samples_16([{"timestamp": stamp, "sampled_value": values}])
    values = [
        {"value": wh, "measurand": "Energy.Active.Import.Register"},
        {"value": 7000, "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "W"}},
    ]
    return samples_201([{"timestamp": stamp, "sampled_value": values}])


def fleet(prefix: str) -> list[str]:
    identities = [f"{prefix}{i}" for i in range(N)]
    Station.objects.bulk_create(
        [Station(id=i, registration_status="Accepted", boot_status="Accepted") for i in identities]
    )
    IdToken.objects.get_or_create(token="TAG")
    return identities


def run_batch(calls: list[tuple]) -> list:
    """The calls as one lane's batch would run them (in this test's transaction)."""
    loop = asyncio.new_event_loop()
    try:
        batch = [
            group_commit.Work(function, args, kwargs, loop.create_future())
            for function, args, kwargs in calls
        ]
        outcomes = group_commit._run(batch)
    finally:
        loop.close()
    assert all(ok for ok, _ in outcomes), outcomes
    return [value for _, value in outcomes]


def state(prefix: str) -> list[tuple]:
    """What the database holds for the fleet, station by station (identities without prefix)."""
    rows = Transaction.objects.filter(station__id__startswith=prefix).order_by("station_id")
    return [
        (
            tx.station_id.removeprefix(prefix),
            tx.energy_wh,
            tx.meter_start_wh,
            tx.last_seq_no,
            tx.charging_state,
            tx.is_active,
            tx.samples.count(),
            tx.events.count() if tx.ocpp_id else None,
        )
        for tx in rows
    ]


def test_a_batch_of_1_6_readings_costs_a_few_statements_and_stores_what_single_ones_do():
    ids = {}
    for prefix in ("ONE_", "MANY_"):
        for identity in fleet(prefix):
            start = StartTransaction(1, "TAG", 1000, T0)
            ids[identity] = transaction_start_16(identity, start).transaction_id
    at = T0 + timedelta(minutes=5)

    def report(identity: str) -> MeterReport:
        return MeterReport(1, reading("1.6", 1500, at), ids[identity])

    for identity in [f"ONE_{i}" for i in range(N)]:
        meter_values_16(identity, report(identity))
    calls: list[tuple] = [
        (meter_values_16, (f"MANY_{i}", report(f"MANY_{i}")), {}) for i in range(N)
    ]
    with statements(3):  # the transactions, every sample, every energy
        run_batch(calls)
    assert state("MANY_") == state("ONE_")
    assert state("MANY_")[0][1] == 500.0  # 1500 - 1000 Wh


def _start_201(identity: str, tx: str) -> None:
    transaction_event_201(
        identity, TransactionUpdate("Started", T0, "Authorized", 0, tx, evse_id=1)
    )


def _update(identity: str, seq_no: int, wh: int, **fields) -> TransactionUpdate:
    at = T0 + timedelta(minutes=seq_no)
    return TransactionUpdate(
        "Updated", at, "MeterValuePeriodic", seq_no, f"T-{identity}",
        samples=reading("2.0.1", wh, at), **fields,
    )  # fmt: skip


def test_a_batch_of_201_events_costs_a_few_statements_and_stores_what_single_ones_do():
    for prefix in ("ONE_", "MANY_"):
        for identity in fleet(prefix):
            _start_201(identity, f"T-{identity}")
            transaction_event_201(identity, _update(identity, 1, 1000))
    for i in range(N):
        transaction_event_201(
            f"ONE_{i}", _update(f"ONE_{i}", 2, 1400, charging_state="EVConnected")
        )
    calls: list[tuple] = [
        (transaction_event_201, (f"MANY_{i}", _update(f"MANY_{i}", 2, 1400, charging_state="EVConnected")), {"remote_start_tokens": {}})
        for i in range(N)
    ]  # fmt: skip
    with statements(4):  # the rows (locked), the events, every sample, every row
        assert run_batch(calls) == [None] * N
    assert state("MANY_") == state("ONE_")
    assert state("MANY_")[0][1:5] == (400.0, 1000.0, 2, "EVConnected")


def test_a_resent_event_in_a_batch_is_answered_and_not_applied_again():
    (first, second) = fleet("RS_")[:2]
    for identity in (first, second):
        _start_201(identity, f"T-{identity}")
        transaction_event_201(identity, _update(identity, 1, 1000))
    calls: list[tuple] = [
        (transaction_event_201, (first, _update(first, 1, 9999)), {}),  # seqNo 1 again
        (transaction_event_201, (second, _update(second, 2, 1200)), {}),
    ]
    run_batch(calls)
    energies = dict(Transaction.objects.values_list("station_id", "energy_wh"))
    assert energies[first] == 0.0 and energies[second] == 200.0


def test_the_uncommon_cases_of_a_batch_go_through_the_single_form():
    """An unknown 1.6 transaction (an anomaly), a 2.0.1 Ended event and one for an unknown
    transaction, in batches with usual readings: each is handled as alone."""
    a, b, c = fleet("UC_")[:3]
    ids = {
        i: transaction_start_16(i, StartTransaction(1, "TAG", 0, T0)).transaction_id for i in (a, b)
    }
    at = T0 + timedelta(minutes=1)
    run_batch(
        [
            (meter_values_16, (a, MeterReport(1, reading("1.6", 100, at), ids[a])), {}),
            (meter_values_16, (b, MeterReport(1, reading("1.6", 100, at), ids[a])), {}),  # a's
            (meter_values_16, (c, MeterReport(1, reading("1.6", 100, at))), {}),  # no transaction
        ]
    )  # fmt: skip
    assert StationEvent.objects.filter(station_id=b, type="UnknownTransactionMeterValues").exists()
    assert MeterSample.objects.filter(station_id=c, transaction__isnull=True).count() == 2

    for identity in ("UC_x", "UC_y"):
        Station.objects.create(id=identity, registration_status="Accepted")
        _start_201(identity, f"T-{identity}")
    ended = TransactionUpdate(
        "Ended", at, "EVDeparted", 1, "T-UC_x", stopped_reason="EVDisconnected",
        samples=reading("2.0.1", 300, at),
    )  # fmt: skip
    run_batch(
        [
            (transaction_event_201, ("UC_x", ended), {}),
            (transaction_event_201, ("UC_y", _update("UC_y", 1, 50)), {}),
            (transaction_event_201, ("UC_1", _update("UC_1", 5, 50)), {}),  # no such transaction
        ]
    )
    x = Transaction.objects.get(station_id="UC_x")
    assert (x.is_active, x.stop_reason, x.meter_stop_wh) == (False, "EVDisconnected", 300.0)
    assert StationEvent.objects.filter(station_id="UC_1", type="TransactionWithoutStart").exists()
