"""Our channel layers (csms_site/channel_layer.py).

The Redis channel layer loses nothing when a receive is cancelled.

A worker receives for all its consumers through one BZPOPMIN at a time; when the consumer whose
task runs it closes, the task is cancelled. Here a message for another channel of the same process
arrives at that moment, again and again; each must still be delivered.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from channels.exceptions import ChannelFull
from redis.asyncio import Redis

from csms_site.channel_layer import ShieldedRedisChannelLayer, SweepingInMemoryChannelLayer
from tests.conftest import require_service

ROUNDS = 30
REDIS_URL = "redis://127.0.0.1:6379/9"
CLIENT_NAME = f"csms-test-layer-{os.getpid()}"  # the layer's connections, in Redis's CLIENT LIST


@pytest.fixture
async def layer():
    require_service("Redis", "127.0.0.1", 6379)
    layer = ShieldedRedisChannelLayer(
        hosts=[{"address": REDIS_URL, "socket_timeout": 15, "client_name": CLIENT_NAME}],
        prefix=f"csms-test-layer-{os.getpid()}",
    )
    layer.brpop_timeout = 1  # a backed-up message is requeued by the next pop: keep that quick
    yield layer
    await layer.flush()


async def blocked_in_bzpopmin(redis: Redis, timeout: float = 10) -> None:
    """Until one of the layer's connections is blocked in BZPOPMIN, as Redis itself reports it
    (CLIENT LIST: the command, and the flag `b`)."""

    async def blocked() -> bool:
        return any(
            client.get("name") == CLIENT_NAME
            and client.get("cmd") == "bzpopmin"
            and "b" in client.get("flags", "")
            for client in await redis.client_list()
        )

    async with asyncio.timeout(timeout):
        while not await blocked():  # noqa: ASYNC110 (the Redis server's state: no event)
            await asyncio.sleep(0.002)


async def test_a_message_popped_for_a_cancelled_receive_is_still_delivered(layer):
    delivered = 0
    redis = Redis.from_url(REDIS_URL)
    try:
        for n in range(ROUNDS):
            closing, other = await layer.new_channel(), await layer.new_channel()
            receiving = asyncio.ensure_future(layer.receive(closing))
            await blocked_in_bzpopmin(redis)
            await layer.send(other, {"type": "station.command", "n": n})
            await asyncio.sleep(n % 4 * 0.0005)  # cancel at various points of the pop's answer
            receiving.cancel()
            await asyncio.gather(receiving, return_exceptions=True)
            message = await asyncio.wait_for(layer.receive(other), 10)
            assert message == {"type": "station.command", "n": n}
            delivered += 1
    finally:
        await redis.aclose()
    assert delivered == ROUNDS


# --- the in-memory layer: expiry swept once per interval, not walked on every message ---------


class CountingLayer(SweepingInMemoryChannelLayer):
    walks = 0

    def _clean_expired(self) -> None:
        before = self._swept_at
        super()._clean_expired()
        if self._swept_at != before:
            self.walks += 1


async def test_in_memory_layer_walks_its_channels_at_most_once_per_interval():
    layer = CountingLayer()
    layer.sweep_interval = 3600
    stations = [await layer.new_channel() for _ in range(2000)]
    for name in stations:
        await layer.group_add(f"station.{name[-12:]}", name)
    for n, name in enumerate(stations):
        await layer.send(name, {"type": "station.command", "n": n})
        await layer.group_send(f"station.{name[-12:]}", {"type": "station.takeover", "n": n})
        assert await layer.receive(name) == {"type": "station.command", "n": n}
        assert await layer.receive(name) == {"type": "station.takeover", "n": n}
    assert layer.walks == 1  # 6,000 operations over 2,000 channels and groups: one walk


async def test_in_memory_layer_still_expires_messages_and_memberships():
    layer = SweepingInMemoryChannelLayer(expiry=0.05, group_expiry=1)
    layer.sweep_interval = 0.01
    stale, member = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("station.x", stale)
    await layer.send(stale, {"type": "old"})
    layer.groups["station.x"][stale] -= 5  # joined long before group_expiry
    await layer.group_add("station.x", member)
    await asyncio.sleep(0.06)  # the message's expiry and a sweep interval pass
    await layer.send(member, {"type": "fresh"})
    assert await layer.receive(member) == {"type": "fresh"}  # a receive sweeps
    assert stale not in layer.channels  # its expired message was dropped
    assert list(layer.groups["station.x"]) == [member]


async def test_in_memory_group_send_reaches_every_member_even_when_one_is_full():
    layer = SweepingInMemoryChannelLayer(capacity=1)
    full, a, b = [await layer.new_channel() for _ in range(3)]
    for name in (full, a, b):
        await layer.group_add("dashboard", name)
    await layer.send(full, {"type": "filler"})
    await layer.group_send("dashboard", {"type": "news"})
    assert await layer.receive(a) == {"type": "news"}
    assert await layer.receive(b) == {"type": "news"}
    assert await layer.receive(full) == {"type": "filler"}  # the full one missed it, as documented


async def test_redis_layer_queues_for_a_connection_instead_of_failing():
    """Thousands of sockets of one worker closing at once each leave their group; past the pool's
    cap they wait for a connection (redis-py's own pool raised MaxConnectionsError at once)."""
    require_service("Redis", "127.0.0.1", 6379)
    layer = ShieldedRedisChannelLayer(
        hosts=[{"address": "redis://127.0.0.1:6379/9", "max_connections": 2}],
        prefix=f"csms-test-pool-{os.getpid()}",
    )
    try:
        names = [await layer.new_channel() for _ in range(60)]
        await asyncio.gather(*(layer.group_add(f"g{i}", n) for i, n in enumerate(names)))
        await asyncio.gather(*(layer.group_discard(f"g{i}", n) for i, n in enumerate(names)))
    finally:
        await layer.flush()


# --- the in-memory layer's mailbox ------------------------------------------------------------------


async def test_a_mailbox_hands_messages_over_in_order_and_wakes_its_receiver():
    from csms_site.channel_layer import Mailbox

    box = Mailbox()
    receiver = asyncio.create_task(box.get())
    await asyncio.sleep(0)  # the receiver waits
    box.put_nowait("first")
    box.put_nowait("second")
    assert await receiver == "first"
    assert box.get_nowait() == "second"
    assert box.empty() and box._waiters is None


async def test_a_cancelled_receiver_passes_its_wake_up_on():
    from csms_site.channel_layer import Mailbox

    box = Mailbox()
    first, second = asyncio.create_task(box.get()), asyncio.create_task(box.get())
    await asyncio.sleep(0)
    box.put_nowait("only")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert await second == "only"
    assert first.cancelled()


async def test_the_in_memory_layer_keeps_no_mailbox_for_a_channel_nobody_uses():
    layer = SweepingInMemoryChannelLayer(capacity=2)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "a"})
    await layer.send(channel, {"type": "b"})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "c"})
    assert await layer.receive(channel) == {"type": "a"}
    assert await layer.receive(channel) == {"type": "b"}
    assert channel not in layer.channels
