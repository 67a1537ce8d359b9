"""Our channel layers: Redis receiving through one pump per process, and a lean in-memory one.

## Redis: one receive pump per process, so no message is ever lost

channels-redis receives for all of a process's consumers through one BZPOPMIN at a time, run inside
whichever consumer's `receive()` holds its lock. When that consumer's socket closes, its task is
cancelled in the middle of the pop, and a message Redis had already popped for the process (a
takeover event, a command for another station, a command's answer) is lost, or left in the backup
queue where the next receiver's clean-up may discard it in place of its own message
(django/channels_redis#366). We saw it as two live sockets after a takeover race, and as commands
answered 504.

Here one pump task per event loop does every pop, to its end, and hands each message to the receive
buffer of the channel it is for; a consumer's `receive()` only waits on its own buffer, and
cancelling that wait loses nothing. The pops, the backup queue and its clean-up are the library's.

## In memory: expiry swept once a second, not on every message
The library's in-memory layer walks every channel and every group membership on each receive and group
send, to drop expired messages. A CSMS holds one channel and one group per station, so
with 5,000 stations each REST command (send, receive, answer) and each handshake (group send)
paid a walk of 10,000 entries: a boot storm was quadratic, and a command cost milliseconds of CPU.
Expiry (60 s by default) needs no finer grain than a second. A group send puts the message on each
member's queue directly, where the library starts a task per member and collects them with
`as_completed` (a station's group has one member; the tasks were 9 % of a boot storm's CPU).

Each channel's messages wait in a `Mailbox` (a list and, while someone waits, one future) instead of
an `asyncio.Queue` (three deques, about 1.9 kB, for a channel every station's consumer keeps open),
and `send`/`receive` build one only for a channel that has none (the library builds a throwaway
queue on every call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from copy import deepcopy
from typing import Any, cast

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

logger = logging.getLogger("csms.channel_layer")


class ShieldedRedisChannelLayer(RedisChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pumps: dict[str, asyncio.Task] = {}

    def create_pool(self, index: int) -> BlockingConnectionPool:
        """A pool that makes a caller wait for a free connection (up to `pool_timeout` seconds)
        where redis-py's default pool raises MaxConnectionsError at once: 5,000 sockets of a
        worker closing together each leave their group, and thousands of those failed."""
        host = dict(self.hosts[index])
        if "address" not in host:
            return super().create_pool(index)
        address = host.pop("address")
        return BlockingConnectionPool.from_url(
            address, timeout=host.pop("pool_timeout", 20), **host
        )

    async def receive(self, channel: str) -> dict:
        if "!" not in channel:
            return await super().receive(channel)  # a normal channel: a plain pop
        assert self.require_valid_channel_name(channel)
        self._ensure_pump(self.non_local_name(channel))
        buffer = self.receive_buffer[channel]
        try:
            return await buffer.get()
        except asyncio.CancelledError:
            if buffer.empty():
                self.receive_buffer.pop(channel, None)  # its consumer is gone
            raise

    def _ensure_pump(self, process_channel: str) -> None:
        pump = self._pumps.get(process_channel)
        loop = asyncio.get_running_loop()
        if pump is None or pump.done() or pump.get_loop() is not loop:
            self._pumps[process_channel] = loop.create_task(
                self._pump(process_channel), name=f"channel-layer pump {process_channel}"
            )

    async def _pump(self, process_channel: str) -> None:
        while True:
            try:
                message_channel, message = await self.receive_single(process_channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("channel layer: receiving failed; retrying in 1 s")
                await asyncio.sleep(1)
                continue
            names = message_channel if isinstance(message_channel, list) else [message_channel]
            for name in names:
                self.receive_buffer[name].put_nowait(message)

    async def close_pools(self) -> None:
        pumps = list(self._pumps.values())
        self._pumps.clear()
        await cancel_until_done(pumps)
        await super().close_pools()


async def cancel_until_done(tasks: list[asyncio.Task], interval: float = 0.05) -> None:
    """Cancel `tasks` and wait for their end, cancelling again while one still runs.

    One cancellation is not always enough on Python 3.11: redis-py sends every command through
    `asyncio.wait_for`, which drops a cancellation that arrives just as the send completes
    (python/cpython#86296, fixed in 3.12). A pump that lost its cancellation goes back to BZPOPMIN
    and loops for ever, so whoever waits for it (`asyncio.run` cancels each task once at shutdown)
    waits for ever too: `manage.py ocpp_command` hung that way after printing its answer."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=interval)


class Mailbox:
    """What the in-memory layer needs of an `asyncio.Queue` (put_nowait, get, get_nowait, empty,
    and `_queue` for the library's expiry sweep), a few hundred bytes lighter per channel."""

    __slots__ = ("_queue", "_waiters", "maxsize")

    def __init__(self, maxsize: int = 0) -> None:
        self._queue: list = []
        self._waiters: list[asyncio.Future] | None = None
        self.maxsize = maxsize

    def empty(self) -> bool:
        return not self._queue

    def qsize(self) -> int:
        return len(self._queue)

    def put_nowait(self, item: object) -> None:
        if self.maxsize and len(self._queue) >= self.maxsize:
            raise asyncio.QueueFull
        self._queue.append(item)
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break

    def get_nowait(self) -> object:
        if not self._queue:
            raise asyncio.QueueEmpty
        return self._queue.pop(0)

    async def get(self) -> object:
        while not self._queue:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if self._waiters and waiter in self._waiters:
                    self._waiters.remove(waiter)
                # Woken and then cancelled: pass the wake-up on to the next waiter, if any.
                if waiter.done() and not waiter.cancelled() and self._queue and self._waiters:
                    self._waiters.pop(0).set_result(None)
                raise
        if not self._waiters:
            self._waiters = None
        return self._queue.pop(0)


class SweepingInMemoryChannelLayer(InMemoryChannelLayer):
    sweep_interval = 1.0  # seconds between two walks for expired messages and memberships

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._swept_at = float("-inf")

    def _mailbox(self, channel: str) -> Mailbox:
        boxes: dict[str, Mailbox] = cast(Any, self.channels)  # the stubs say asyncio.Queue
        box = boxes.get(channel)
        if box is None:
            box = boxes[channel] = Mailbox(self.get_capacity(channel))
        return box

    async def send(self, channel: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        try:
            self._mailbox(channel).put_nowait((time.time() + self.expiry, deepcopy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def receive(self, channel: str) -> dict:
        self.require_valid_channel_name(channel)
        self._clean_expired()
        box = self._mailbox(channel)
        try:
            _, message = cast(tuple[float, dict], await box.get())
        finally:
            if box.empty() and not box._waiters:
                self.channels.pop(channel, None)
        return message

    async def group_send(self, group: str, message: dict) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):  # as the library: a full member misses it
                await self.send(channel, message)

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at >= self.sweep_interval:
            self._swept_at = now
            # types-channels leaves out the library's private sweep (channels/layers.py, 4.3).
            super()._clean_expired()  # type: ignore[misc]
