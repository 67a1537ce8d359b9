"""The state every part of the station works on, declared once.

`EmulatedStation` is one object assembled from mixins (one module each); declaring here what they
all share lets each be type-checked on its own, and keeps the list of what a station *has* in one
place.
`EmulatedStation.__init__` creates all of it. Tests replace `enqueue`, `online` and `_observe` on a
station after creating it, so no part may keep its own reference to them: each looks them up on
the station when it needs them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from emulator.core.connection import Connection
from emulator.core.device import Device
from emulator.core.heartbeat import Heartbeat
from emulator.core.options import StationOptions
from emulator.core.outbox import Outbox, OutboxItem
from emulator.core.state import Connector, Stats

if TYPE_CHECKING:
    from emulator.protocol.base import ProtocolBase

T = TypeVar("T")


class StationBase:
    options: StationOptions
    identity: str
    rng: random.Random
    device: Device
    connectors: dict[int, Connector]
    stats: Stats
    protocol: ProtocolBase
    connection: Connection
    outbox: Outbox
    heartbeat: Heartbeat
    online: asyncio.Event  # connected and accepted
    _tasks: set[asyncio.Task[Any]]

    # --- clock ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The station's clock, off UTC by `clock_skew_seconds` (fault injection)."""
        return datetime.now(UTC) + timedelta(seconds=self.options.clock_skew_seconds)

    def timestamp(self) -> str:
        return self.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # --- background work --------------------------------------------------------------------------

    def spawn(self, awaitable: Awaitable[T]) -> asyncio.Task[T]:
        """Run in the background; the station keeps a reference until it finishes (the event loop
        keeps only a weak one), and tests cancel what is left in `_tasks` at the end."""
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- the outbox -------------------------------------------------------------------------------

    def enqueue(
        self,
        action: str,
        build: Callable[[], dict[str, Any]],
        on_answer: Callable[[dict[str, Any]], Awaitable[Any] | None] | None = None,
    ) -> None:
        """Queue a transaction message: delivered in order, at least once, whenever online.

        `build` makes the payload when the message is first sent, not now: a 1.6 MeterValues
        queued offline carries the transactionId of the StartTransaction answered before it."""
        self.outbox.append(OutboxItem(action, build, on_answer))

    async def outbox_drained(self) -> None:
        """Wait until every queued transaction message has been delivered."""
        await self.outbox.drained()
