"""Live events for the dashboard: what changed, pushed to every open browser, on any worker.

Services call `publish()` inside their database transaction; the event is released only when the
transaction commits (`on_commit`), so a browser never sees what was rolled back. Released events
wait in a per-process buffer that a background job of every worker (stations/background.py) sends
to the `dashboard` Channels group every EVENT_FLUSH_SECONDS, in one message per batch, and once more
at shutdown: the station's answer never waits for the channel layer, and a burst of meter values
costs one group_send, not hundreds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer
from django.db import transaction

from stations import background

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
        _wake()

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
        layer = get_channel_layer()
        assert layer is not None  # settings.CHANNEL_LAYERS always names one
        await layer.group_send(GROUP, {"type": "dashboard.events", "events": events})
    return len(events)


async def publish_buffered() -> None:
    """The background job's tick (and its shutdown flush)."""
    await flush()


def _wake() -> None:
    """Where no lifespan started the background jobs (daphne, a test's event loop), the first
    event starts them in the event loop of this process, from any thread."""
    if background.runner.running:
        return
    loop: asyncio.AbstractEventLoop | None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # A database or view thread: the loop that spawned it (asgiref remembers it).
        loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(background.ensure_started)
