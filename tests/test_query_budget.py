"""A regression guard that is not a timing: the database queries each kind of message costs.

Every incoming message is handled with at most one trip to the database thread; what happens there
is counted here. A change that adds a query per frame fails this test. Heartbeat costs none: it is
answered without the database (presence is written in batches).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stations.models import Connector, IdToken, Station, Transaction
from stations.ocpp.readings import samples_16, samples_201
from stations.ocpp.v16 import StationSession16
from stations.ocpp.v201 import StationSession201
from stations.services.authorization import authorize
from stations.services.boot import BootInfo, station_boot
from stations.services.meter_values import Sample
from stations.services.status import ConnectorStatus, record_connector_status
from stations.services.transactions import (
    MeterReport,
    StartTransaction,
    StopTransaction,
    TransactionUpdate,
    meter_values_16,
    transaction_event_201,
    transaction_start_16,
    transaction_stop_16,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)
START = StartTransaction(connector_id=1, id_tag="TAG", meter_start_wh=0, timestamp=T0)


def samples(n: int, version: str) -> list[Sample]:
    """One meter value with `n` sampled values, from snake_case as handlers receive them."""
    values: list[dict[str, Any]]
    if version == "1.6":
        values = [
            {"value": str(1000 + i), "measurand": "Energy.Active.Import.Register", "phase": f"L{i}"}
            for i in range(n)
        ]
    else:
        values = [
            {"value": 1000 + i, "measurand": "Energy.Active.Import.Register", "phase": f"L{i}"}
            for i in range(n)
        ]
    wire = [{"timestamp": "2026-01-01T00:05:00Z", "sampled_value": values}]
    return samples_16(wire) if version == "1.6" else samples_201(wire)


@contextlib.contextmanager
def statements(at_most: int):
    """Count the SQL statements that do work (savepoints belong to the test's own transaction)."""
    with CaptureQueriesContext(connection) as captured:
        yield
    done = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(done) <= at_most, f"{len(done)} statements, budget {at_most}:\n" + "\n".join(done)


@pytest.fixture
def station():
    Station.objects.create(id="CP_Q", registration_status="Accepted", boot_status="Accepted")
    Connector.objects.create(station_id="CP_Q", evse_id=1, status="Available")
    IdToken.objects.create(token="TAG")


def test_heartbeat_does_not_touch_the_database(station):
    for session in (
        StationSession16("CP_Q", accepted=True),
        StationSession201("CP_Q", accepted=True),
    ):
        with statements(0):
            assert session.on_heartbeat().current_time


def test_boot_costs_three_queries(station):
    """Registration, the boot's record, and the look for transactions it leaves open."""
    with statements(3):
        station_boot("CP_Q", BootInfo(vendor="V", model="M"))


def test_a_triggered_201_boot_costs_two_queries(station):
    with statements(2):
        station_boot("CP_Q", BootInfo(vendor="V", model="M", reason="Triggered"))


def test_a_status_change_of_a_known_connector_costs_one_query(station):
    with statements(1):
        record_connector_status("CP_Q", ConnectorStatus(1, 1, "Charging"))


def test_the_first_status_of_a_new_connector_costs_one_query_too(station):
    """A boot storm of new stations: the row is inserted by the same single statement."""
    with statements(1):
        record_connector_status("CP_Q", ConnectorStatus(2, 1, "Available"))
    with statements(1):
        record_connector_status("CP_Q", ConnectorStatus(2, 1, "Faulted", info="x"))
    connector = Connector.objects.get(station_id="CP_Q", evse_id=2)
    assert (connector.status, connector.info) == ("Faulted", "x")
    assert Connector.objects.filter(station_id="CP_Q").count() == 2


def test_authorize_costs_one_query(station):
    with statements(1):
        authorize("TAG")


def test_a_16_start_costs_at_most_four_queries(station):
    with statements(4):
        transaction_start_16("CP_Q", START)


@pytest.mark.parametrize("n", [1, 10])
def test_16_meter_values_cost_the_same_whatever_the_number_of_samples(station, n):
    tx = transaction_start_16("CP_Q", START)
    with statements(3):  # the transaction, one INSERT for all samples, energy
        meter_values_16("CP_Q", MeterReport(1, samples(n, "1.6"), tx.transaction_id))
    assert Transaction.objects.get().samples.count() == n


def test_a_16_stop_costs_at_most_four_queries(station):
    tx = transaction_start_16("CP_Q", START)
    with statements(4):
        transaction_stop_16(
            "CP_Q", StopTransaction(tx.transaction_id, 500, T0, samples=samples(10, "1.6"))
        )


@pytest.mark.parametrize("n", [1, 10])
def test_a_201_transaction_event_costs_the_same_whatever_the_number_of_samples(station, n):
    transaction_event_201(
        "CP_Q", TransactionUpdate("Started", T0, "Authorized", 0, "T1", evse_id=1)
    )
    update = TransactionUpdate(
        "Updated", T0, "MeterValuePeriodic", 1, "T1", samples=samples(n, "2.0.1")
    )
    with statements(4):  # the row (locked), the event (its seqNo unique), samples, row
        transaction_event_201("CP_Q", update)
    assert Transaction.objects.get().samples.count() == n
