"""Writes that would cost a database round trip per frame, batched per process instead.

- Presence: `last_seen_at` on every frame and `last_heartbeat_at` on every Heartbeat. A Heartbeat is
  the most frequent message and needs no other write, so it is answered without touching the
  database; the timestamps are written for all stations at once every OCPP_PRESENCE_FLUSH_SECONDS.
- Message log: every frame, appended in memory and bulk-inserted every
  OCPP_MESSAGE_LOG_FLUSH_SECONDS. The buffer is bounded; if the database falls far behind, the oldest
  unwritten entries are dropped and counted rather than exhausting memory.

A crash loses at most one flush interval of these records, never transaction data: that is written
before the station is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction

from stations.clock import utcnow
from stations.db import in_db_thread
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
        if seen:
            await in_db_thread(self.write)(seen, heartbeats)


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

    def reset(self) -> None:
        self._entries.clear()
        self._bytes = 0
        self.dropped = 0

    async def flush(self) -> None:
        if not self._entries:
            return
        batch = list(self._entries)
        self._entries.clear()
        self._bytes = 0
        try:
            await in_db_thread(_write_log)(batch)
        except IntegrityError:
            # One bad row must not block every later entry: save the rest one by one.
            self.dropped += await in_db_thread(_save_each)(batch)
        except Exception:
            logger.exception("message log: could not write %d entries; keeping them", len(batch))
            for entry in reversed(batch):  # back in front, still within the bounds
                if (
                    len(self._entries) >= MAX_BUFFERED_LOG_ENTRIES
                    or self._bytes + len(entry.frame) > MAX_BUFFERED_LOG_BYTES
                ):
                    self.dropped += 1
                    continue
                self._entries.appendleft(entry)
                self._bytes += len(entry.frame)


def _write_log(batch: list[LogEntry]) -> None:
    with transaction.atomic():
        for i in range(0, len(batch), 500):
            _insert_log.run(batch[i : i + 500])


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


class _Flusher:
    """One background task per event loop: flushes the recorders and runs the periodic jobs apps
    register (message log pruning here, reservation expiry in `reservations`)."""

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None
        self._jobs: dict[str, tuple[Callable[[], float], Callable[[], object]]] = {}

    def every(self, name: str, interval: Callable[[], float], job: Callable[[], object]) -> None:
        """Run the synchronous `job` in the database thread every `interval()` seconds."""
        self._jobs[name] = (interval, job)

    def ensure_running(self) -> None:
        task = self._task
        loop = asyncio.get_running_loop()
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._task = loop.create_task(self._run(), name="csms-recorders")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_presence = 0.0
        due = {name: loop.time() + interval() for name, (interval, _) in self._jobs.items()}
        while True:
            await asyncio.sleep(
                min(settings.OCPP_PRESENCE_FLUSH_SECONDS, settings.OCPP_MESSAGE_LOG_FLUSH_SECONDS)
            )
            try:
                await message_log.flush()
                if loop.time() >= next_presence:
                    await presence.flush()
                    next_presence = loop.time() + settings.OCPP_PRESENCE_FLUSH_SECONDS
            except Exception:
                logger.exception("recorders: flush failed; retrying next interval")
            for name, (interval, job) in list(self._jobs.items()):
                if loop.time() < due.setdefault(name, loop.time() + interval()):
                    continue
                due[name] = loop.time() + interval()
                try:
                    result = await in_db_thread(job)()
                    if result:
                        logger.info("%s: %s", name, result)
                except Exception:
                    logger.exception("%s failed; retrying next interval", name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._task
            self._task = None


flusher = _Flusher()
flusher.every(
    "message log retention",
    lambda: settings.OCPP_HOUSEKEEPING_SECONDS,
    prune_message_log,
)
