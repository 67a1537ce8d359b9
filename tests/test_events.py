"""The live feed for the dashboard: committed changes only, batched, bounded."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer
from django.db import transaction

from stations import events
from tests.ocpp_client import status_payload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_buffer():
    events.buffer.take()
    yield
    events.buffer.take()


async def next_events(channel: str, kinds: set[str]) -> list[dict]:
    """Collect batches until every kind asked for has arrived."""
    layer = get_channel_layer()
    assert layer is not None
    seen: list[dict] = []
    while not kinds <= {e["kind"] for e in seen}:
        message = await layer.receive(channel)
        assert message["type"] == "dashboard.events"
        seen += message["events"]
    return seen


async def test_a_station_booting_and_reporting_reaches_the_dashboard_group(booted, version):
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    await layer.group_add(events.GROUP, channel)
    await booted.result("StatusNotification", status_payload(version, 1, "Faulted"))
    seen = await next_events(channel, {"connector"})
    connector = next(e for e in seen if e["kind"] == "connector")
    assert (connector["station"], connector["evse_id"], connector["status"]) == (
        "CP_1",
        1,
        "Faulted",
    )
    await booted.close()
    seen = await next_events(channel, {"station"})
    assert {"kind": "station", "id": "CP_1", "connected": False} in seen


def test_a_change_that_is_rolled_back_is_never_announced(transactional_db):
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish("connector", station="CP_1", status="Charging")
        raise RuntimeError("the transaction fails")
    assert events.buffer.take() == []
    with transaction.atomic():
        events.publish("connector", station="CP_1", status="Charging")
    assert events.buffer.take() == [{"kind": "connector", "station": "CP_1", "status": "Charging"}]


def test_the_buffer_is_bounded_when_nobody_drains_it(monkeypatch):
    monkeypatch.setattr(events, "MAX_BUFFERED", 3)
    buffer = events.EventBuffer()
    for i in range(5):
        buffer.add({"kind": "x", "i": i})
    assert len(buffer.take()) == 3 and buffer.dropped == 2
