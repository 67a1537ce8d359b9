"""Transaction messages, kept across disconnections and delivered in order, at least once.

A station must not lose a start, a meter value or a stop because the network was down, and must
not reorder them (a CSMS would bill a stop before its start); so they wait here, first in line
first, and one is sent only after the one before it was answered. The CSMS's idempotency turns
"at least once" into "exactly once".

A payload is built when first sent and then frozen: a resend after a lost answer is byte for byte
the same message, and a 1.6 MeterValues or StopTransaction queued while offline is built only after
the StartTransaction before it was answered, so it carries the CSMS's transactionId. A message the
CSMS keeps refusing is retried `TransactionMessageAttempts` times, `TransactionMessageRetryInterval`
x attempt seconds apart, then dropped (counted in `Stats.dropped`), as both versions specify.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import websockets

from emulator.core.device import Device
from emulator.core.options import StationOptions
from emulator.core.state import Stats
from ocppj import CallErrorReceived, RpcEndpoint
from ocppj.errors import InvalidResponse

logger = logging.getLogger("emulator")

Answered = Callable[[dict[str, Any]], Awaitable[Any] | None]


@dataclass
class OutboxItem:
    action: str
    build: Callable[[], dict[str, Any]]
    on_answer: Answered | None = None  # may return a coroutine; delivery waits for it
    payload: dict[str, Any] | None = None  # frozen when first sent
    attempts: int = 0  # failed ones: CALLERROR, invalid answer or no answer in time


class Outbox:
    def __init__(
        self,
        options: StationOptions,
        device: Device,
        stats: Stats,
        *,
        is_meter_message: Callable[[OutboxItem], bool],
    ) -> None:
        self.options = options  # retry_unit and the fault injections
        self.device = device  # TransactionMessageAttempts / RetryInterval, read at each failure
        self.stats = stats
        # Which messages `out_of_order` may swap: the version knows its meter messages.
        self.is_meter_message = is_meter_message
        self._items: deque[OutboxItem] = deque()
        self._changed = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()

    # The queue reads like a sequence, oldest first (tests and GetTransactionStatus look inside).

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[OutboxItem]:
        return iter(self._items)

    def __getitem__(self, index: int) -> OutboxItem:
        return self._items[index]

    def append(self, item: OutboxItem) -> None:
        self._items.append(item)
        self._empty.clear()
        self._changed.set()

    async def drained(self) -> None:
        """Wait until every queued message has been delivered (or dropped)."""
        await self._empty.wait()

    async def deliver(self, rpc: RpcEndpoint) -> None:
        """Send queued messages over `rpc` as they come, until its connection is gone."""
        while True:
            while self._items:
                if not await self._deliver_first(rpc):
                    return
            self._changed.clear()
            await self._changed.wait()

    async def _deliver_first(self, rpc: RpcEndpoint) -> bool:
        """Try the first message once; False when the connection is gone (it stays first)."""
        if self.options.out_of_order:
            self._swap_meter_messages()
        item = self._items[0]
        if item.payload is None:
            item.payload = item.build()
        try:
            answer = await rpc.call(item.action, item.payload)
        except (ConnectionError, websockets.ConnectionClosed):
            return False
        except (CallErrorReceived, TimeoutError, InvalidResponse) as error:
            await self._failed(item, error)
            return True
        if self.options.duplicate_messages:
            # The resend a station makes when it missed the answer: same message, new id.
            with contextlib.suppress(CallErrorReceived, InvalidResponse, TimeoutError):
                await rpc.call(item.action, item.payload)
        if item.on_answer is not None:
            result = item.on_answer(answer)
            if asyncio.iscoroutine(result):
                await result
        self._pop()
        return True

    async def _failed(self, item: OutboxItem, error: Exception) -> None:
        """Count a failed attempt: wait before the next one, or drop the message after the last."""
        item.attempts += 1
        if item.attempts >= self.device.integer("TransactionMessageAttempts"):
            logger.error(
                "%s: dropping %s after %d attempts: %s",
                self.options.identity,
                item.action,
                item.attempts,
                error,
            )
            self.stats.dropped += 1
            self._pop()
            return
        delay = (
            self.device.integer("TransactionMessageRetryInterval")
            * item.attempts
            * self.options.retry_unit
        )
        logger.warning(
            "%s: %s failed (%s); retry in %.2f s",
            self.options.identity,
            item.action,
            error,
            delay,
        )
        await asyncio.sleep(delay)

    def _swap_meter_messages(self) -> None:
        """Fault injection (`out_of_order`): two meter messages not yet sent change places."""
        if len(self._items) < 2 or self._items[0].payload is not None:
            return
        first, second = self._items[0], self._items[1]
        if all(self.is_meter_message(i) for i in (first, second)):
            self._items[0], self._items[1] = second, first

    def _pop(self) -> None:
        self._items.popleft()
        if not self._items:
            self._empty.set()
