"""Writes that would cost a database round trip per frame, batched per process instead.

- Presence: `last_seen_at` on every frame and `last_heartbeat_at` on every Heartbeat. A Heartbeat is
  the most frequent message and needs no other write, so it is answered without touching the
  database; the timestamps are written for all stations at once every OCPP_PRESENCE_FLUSH_SECONDS.
- Message log: every frame, appended in memory and bulk-inserted every
  OCPP_MESSAGE_LOG_FLUSH_SECONDS. The buffer is bounded; if the database falls far behind, the oldest
  unwritten entries are dropped and counted rather than exhausting memory.

Both are flushed by background jobs of every worker process (stations/background.py), and once more
when the process shuts down (ASGI lifespan). A crash loses at most one flush interval of these
records, never transaction data: that is written before the station is answered. Message log
retention (`prune_message_log`) is a job of the whole cluster.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction

from stations import db
from stations.clock import utcnow
from stations.models import MessageLog, Station
from stations.sql import BulkInsert, set_column


def prune_message_log(batch: int = 10_000) -> int:
    """Delete message log entries older than OCPP_MESSAGE_LOG_RETENTION_DAYS (0 keeps them all),
    in batches so a large backlog never holds one long lock."""
    days = settings.OCPP_MESSAGE_LOG_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            MessageLog.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += MessageLog.objects.filter(pk__in=ids).delete()[0]


logger = logging.getLogger("csms.recorders")

MAX_BUFFERED_LOG_ENTRIES = 100_000
# Frames may be up to OCPP_MAX_FRAME_BYTES each: the buffer is bounded in bytes too, so a flood of
# large frames while the database is slow cannot exhaust memory.
MAX_BUFFERED_LOG_BYTES = 32 * 1024 * 1024
_CHUNK = 2000
LOG_CHUNK = 100  # log rows per write: one multi-row INSERT, a couple of milliseconds


class PresenceRecorder:
    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._heartbeats: set[str] = set()

    def seen(self, station_id: str) -> None:
        self._seen.add(station_id)

    def heartbeat(self, station_id: str) -> None:
        self._heartbeats.add(station_id)

    def take(self) -> tuple[list[str], list[str]]:
        seen, heartbeats = list(self._seen | self._heartbeats), list(self._heartbeats)
        self._seen.clear()
        self._heartbeats.clear()
        return seen, heartbeats

    @staticmethod
    def write(seen: list[str], heartbeats: list[str]) -> None:
        now = utcnow()
        set_column(Station, "last_seen_at", now, seen, chunk=_CHUNK)
        set_column(Station, "last_heartbeat_at", now, heartbeats, chunk=_CHUNK)

    def reset(self) -> None:
        self.take()

    async def flush(self) -> None:
        seen, heartbeats = self.take()
        if not seen:
            return
        beating = set(heartbeats)
        await asyncio.gather(
            *(
                db.write(group[0], self.write, group, [s for s in group if s in beating])
                for group in db.by_lane(seen)
            )
        )


class LogEntry(NamedTuple):
    """One buffered frame: a tuple costs a fraction of a model instance, on every frame."""

    station_id: str
    direction: str
    message_type: int
    action: str
    unique_id: str
    frame: str
    created_at: datetime


_insert_log = BulkInsert(MessageLog, LogEntry._fields)


class MessageLogRecorder:
    def __init__(self) -> None:
        self._entries: deque[LogEntry] = deque()
        self._bytes = 0
        self.dropped = 0

    def record(
        self,
        station_id: str,
        direction: str,
        text: str,
        message_type: int,
        unique_id: str,
        action: str,
    ) -> None:
        while self._entries and (
            len(self._entries) >= MAX_BUFFERED_LOG_ENTRIES
            or self._bytes + len(text) > MAX_BUFFERED_LOG_BYTES
        ):
            self._bytes -= len(self._entries.popleft().frame)  # the oldest unwritten go first
            self.dropped += 1
        self._bytes += len(text)
        self._entries.append(
            LogEntry(
                station_id, direction, message_type, action[:64], unique_id[:64], text, utcnow()
            )
        )

    def __len__(self) -> int:
        return len(self._entries)

    def reset(self) -> None:
        self._entries.clear()
        self._bytes = 0
        self.dropped = 0

    async def flush(self) -> None:
        """Write what is buffered, a chunk at a time: each chunk joins whatever batch of the
        stations' own writes is forming (stations.group_commit), so the log never holds a writer
        lane for long and a station's answer waits for a hundred log rows at most."""
        if not self._entries:
            return
        batch = list(self._entries)
        self._entries.clear()
        self._bytes = 0
        for start in range(0, len(batch), LOG_CHUNK):
            chunk = batch[start : start + LOG_CHUNK]
            try:
                # Any lane: the log takes no row locks.
                await db.write(chunk[0].station_id, _write_log, chunk)
            except IntegrityError:
                # One bad row must not block every later entry: save the rest one by one.
                self.dropped += await db.write(chunk[0].station_id, _save_each, chunk)
            except Exception:
                logger.exception(
                    "message log: could not write %d entries; keeping them", len(batch) - start
                )
                self._keep(batch[start:])
                return

    def _keep(self, entries: list[LogEntry]) -> None:
        """Put unwritten entries back in front, still within the bounds."""
        for entry in reversed(entries):
            if (
                len(self._entries) >= MAX_BUFFERED_LOG_ENTRIES
                or self._bytes + len(entry.frame) > MAX_BUFFERED_LOG_BYTES
            ):
                self.dropped += 1
                continue
            self._entries.appendleft(entry)
            self._bytes += len(entry.frame)


def _write_log(batch: list[LogEntry]) -> None:
    with db.atomic():
        _insert_log.run(batch)


def _save_each(batch: list[LogEntry]) -> int:
    """Insert entries one by one; return how many the database refused."""
    refused = 0
    for entry in batch:
        try:
            with transaction.atomic():
                _insert_log.run([entry])
        except IntegrityError:
            refused += 1
            logger.error(
                "message log: refused an entry of %s: %.200s", entry.station_id, entry.frame
            )
    return refused


presence = PresenceRecorder()
message_log = MessageLogRecorder()


async def flush_all() -> None:
    await presence.flush()
    await message_log.flush()


async def flush_message_log_at_shutdown() -> None:
    """The last flush before the process exits: what cannot be written now is lost, and said so."""
    await message_log.flush()
    if len(message_log):
        logger.error(
            "message log: %d entries could not be written before shutdown; lost", len(message_log)
        )
