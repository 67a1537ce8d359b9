"""Batched writes: presence, the message log, and its retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings

from stations import recorders
from stations.clock import utcnow
from stations.models import MessageLog, Station


def log_entry(age_days: float) -> MessageLog:
    return MessageLog(
        station_id="CP_1",
        direction="in",
        message_type=2,
        action="Heartbeat",
        unique_id="u",
        frame='[2,"u","Heartbeat",{}]',
        created_at=utcnow() - timedelta(days=age_days),
    )


@pytest.mark.django_db
@override_settings(OCPP_MESSAGE_LOG_RETENTION_DAYS=30)
def test_entries_older_than_the_retention_are_pruned_in_batches():
    MessageLog.objects.bulk_create([log_entry(31) for _ in range(25)] + [log_entry(29)])
    assert recorders.prune_message_log(batch=10) == 25
    assert list(MessageLog.objects.values_list("action", flat=True)) == ["Heartbeat"]


@pytest.mark.django_db
@override_settings(OCPP_MESSAGE_LOG_RETENTION_DAYS=0)
def test_a_retention_of_zero_keeps_everything():
    MessageLog.objects.bulk_create([log_entry(400)])
    assert recorders.prune_message_log() == 0
    assert MessageLog.objects.count() == 1


@pytest.mark.django_db(transaction=True)
async def test_presence_of_many_stations_is_written_in_one_flush():
    await Station.objects.abulk_create([Station(id=f"CP_{i}") for i in range(3)])
    for i in range(3):
        recorders.presence.seen(f"CP_{i}")
    recorders.presence.heartbeat("CP_0")
    await recorders.presence.flush()
    seen = {s.id: (s.last_seen_at, s.last_heartbeat_at) async for s in Station.objects.all()}
    assert all(last_seen for last_seen, _ in seen.values())
    assert seen["CP_0"][1] is not None and seen["CP_1"][1] is None


def test_the_message_log_buffer_is_bounded(monkeypatch):
    monkeypatch.setattr(recorders, "MAX_BUFFERED_LOG_ENTRIES", 5)
    log = recorders.MessageLogRecorder()
    for i in range(8):
        log.record("CP_1", "in", f"frame {i}", 2, str(i), "Heartbeat")
    assert len(log._entries) == 5 and log.dropped == 3
    assert [e.frame for e in log._entries] == [f"frame {i}" for i in range(3, 8)]


def test_the_message_log_buffer_is_bounded_in_bytes(monkeypatch):
    monkeypatch.setattr(recorders, "MAX_BUFFERED_LOG_BYTES", 1000)
    log = recorders.MessageLogRecorder()
    for i in range(10):
        log.record("CP_1", "in", f"{i}" * 300, 2, str(i), "DataTransfer")
    kept = [e.frame[0] for e in log._entries]
    assert kept == ["7", "8", "9"] and log.dropped == 7


@pytest.mark.django_db(transaction=True)
async def test_one_entry_the_database_refuses_does_not_block_the_others():
    log = recorders.MessageLogRecorder()
    log.record("CP_1", "in", "first", 2, "a", "Heartbeat")
    log.record("CP_1", "in", "refused", -5, "b", "")  # breaks the CHECK constraint
    log.record("CP_1", "in", "last", 2, "c", "Heartbeat")
    await log.flush()
    frames = [f async for f in MessageLog.objects.order_by("id").values_list("frame", flat=True)]
    assert frames == ["first", "last"] and log.dropped == 1
