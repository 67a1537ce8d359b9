"""The silence watch: a job of every worker process that closes station sockets carrying nothing.

The ASGI server's WebSocket pings find a half-open socket, but not a station that answers pings and
sends no OCPP (hung firmware, or a proxy in between that keeps the socket alive for it). Every frame
a station sends stamps its consumer (`last_frame_at`); this task looks at the stamps a few times per
OCPP_SILENCE_TIMEOUT and tells each consumer silent for longer to close (code 4001). Looking at
10,000 stamps costs about a millisecond, so it never touches the database unless someone is silent.
It looks at this process's own sockets only, so it runs in every worker (stations/background.py
runs `tick`).
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

    def add(self, socket: Watched) -> None:
        self._sockets.add(socket)

    def discard(self, socket: Watched) -> None:
        self._sockets.discard(socket)

    def reset(self) -> None:
        """Forget every socket (tests: each runs its own event loop)."""
        self._sockets.clear()

    def __len__(self) -> int:
        return len(self._sockets)

    async def tick(self) -> int:
        """One look at the stamps, every check_interval(OCPP_SILENCE_TIMEOUT) seconds."""
        timeout = settings.OCPP_SILENCE_TIMEOUT
        return await self.check(timeout) if timeout > 0 else 0

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
