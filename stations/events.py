"""Live events for the dashboard: what changed, pushed to every open browser, on any worker.

Services call `publish()` inside their database transaction; the event is released only when the
transaction commits (`on_commit`), so a browser never sees what was rolled back. Released events
wait in a per-process buffer that a background task sends to the `dashboard` Channels group every
EVENT_FLUSH_SECONDS, in one message per batch: the station's answer never waits for the channel
layer, and a burst of meter values costs one group_send, not hundreds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger("csms.events")

GROUP = "dashboard"
EVENT_FLUSH_SECONDS = 0.2
MAX_BUFFERED = 10_000


class EventBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # services run in database threads
        self._events: list[dict[str, Any]] = []
        self.dropped = 0

    def add(self, event: dict[str, Any]) -> None:
        with self._lock:
            if len(self._events) >= MAX_BUFFERED:
                self.dropped += 1  # nobody is draining: bounded, never unbounded
                return
            self._events.append(event)
        publisher.wake()

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            events, self._events = self._events, []
        return events


buffer = EventBuffer()


def publish(kind: str, **data: Any) -> None:
    """Announce a change once the current transaction commits (at once outside one)."""
    event = {"kind": kind, **data}
    transaction.on_commit(lambda: buffer.add(event))


async def flush() -> int:
    events = buffer.take()
    if events:
        await get_channel_layer().group_send(GROUP, {"type": "dashboard.events", "events": events})
    return len(events)


class _Publisher:
    """One background task per event loop, started by the first station or dashboard socket."""

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None

    def wake(self) -> None:
        """Make sure a publisher runs in this process's event loop, from any thread."""
        task = self._task
        if task is not None and not task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # A database or view thread: the loop that spawned it (asgiref remembers it).
            loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self.ensure_running)

    def ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._task = loop.create_task(self._run(), name="csms-events")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(EVENT_FLUSH_SECONDS)
            try:
                await flush()
            except Exception:
                logger.exception("events: publishing failed; next batch follows")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


publisher = _Publisher()
