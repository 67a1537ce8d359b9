"""The Redis channel layer loses nothing when a receive is cancelled (csms_site/channel_layer.py).

A worker receives for all its consumers through one BZPOPMIN at a time; when the consumer whose
task runs it closes, the task is cancelled. Here a message for another channel of the same process
arrives at that moment, again and again; each must still be delivered.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from csms_site.channel_layer import ShieldedRedisChannelLayer
from tests.conftest import require_service

ROUNDS = 30


@pytest.fixture
async def layer():
    require_service("Redis", "127.0.0.1", 6379)
    layer = ShieldedRedisChannelLayer(
        hosts=[{"address": "redis://127.0.0.1:6379/9", "socket_timeout": 15}],
        prefix=f"csms-test-layer-{os.getpid()}",
    )
    layer.brpop_timeout = 1  # a backed-up message is requeued by the next pop: keep that quick
    yield layer
    await layer.flush()


async def test_a_message_popped_for_a_cancelled_receive_is_still_delivered(layer):
    delivered = 0
    for n in range(ROUNDS):
        closing, other = await layer.new_channel(), await layer.new_channel()
        receiving = asyncio.ensure_future(layer.receive(closing))
        await asyncio.sleep(0.02)  # it is blocked in BZPOPMIN now
        await layer.send(other, {"type": "station.command", "n": n})
        await asyncio.sleep(n % 4 * 0.0005)  # cancel at various points of the pop's answer
        receiving.cancel()
        await asyncio.gather(receiving, return_exceptions=True)
        message = await asyncio.wait_for(layer.receive(other), 10)
        assert message == {"type": "station.command", "n": n}
        delivered += 1
    assert delivered == ROUNDS
