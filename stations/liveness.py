"""The silence watch: one task per worker process that closes station sockets carrying nothing.

The ASGI server's WebSocket pings find a half-open socket, but not a station that answers pings and
sends no OCPP (hung firmware, or a proxy in between that keeps the socket alive for it). Every frame
a station sends stamps its consumer (`last_frame_at`); this task looks at the stamps a few times per
OCPP_SILENCE_TIMEOUT and tells each consumer silent for longer to close (code 4001). Looking at
10,000 stamps costs about a millisecond, so it never touches the database unless someone is silent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from django.conf import settings

logger = logging.getLogger("csms.connections")


class Watched(Protocol):
    last_frame_at: float

    async def close_silent(self, silent_for: float) -> None: ...


def check_interval(timeout: float) -> float:
    """A silent station is closed at most a quarter of the timeout (and at most 30 s) late."""
    return min(max(timeout / 4, 0.05), 30.0)


class SilenceWatch:
    def __init__(self) -> None:
        self._sockets: set[Watched] = set()
        self._task: asyncio.Task | None = None

    def add(self, socket: Watched) -> None:
        self._sockets.add(socket)
        task = self._task
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="csms-silence-watch")

    def discard(self, socket: Watched) -> None:
        self._sockets.discard(socket)

    def reset(self) -> None:
        """Forget every socket (tests: each runs its own event loop)."""
        self._sockets.clear()
        self._task = None

    def __len__(self) -> int:
        return len(self._sockets)

    async def _run(self) -> None:
        while True:
            timeout = settings.OCPP_SILENCE_TIMEOUT
            await asyncio.sleep(check_interval(timeout) if timeout > 0 else 30.0)
            if timeout > 0:
                await self.check(timeout)

    async def check(self, timeout: float) -> int:
        """Close every socket silent for longer than `timeout`; return how many."""
        now = time.monotonic()
        silent = [s for s in self._sockets if now - s.last_frame_at > timeout]
        for socket in silent:
            self._sockets.discard(socket)
        results = await asyncio.gather(
            *(s.close_silent(now - s.last_frame_at) for s in silent), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                logger.error("silence watch: closing a silent station failed: %r", result)
        return len(silent)


silence_watch = SilenceWatch()
