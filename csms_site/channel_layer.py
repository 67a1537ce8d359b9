"""The Redis channel layer, with one fix: a cancelled receive never loses a message.

channels-redis pops a message with BZPOPMIN and only then copies it to a backup queue. When the
task waiting in BZPOPMIN is cancelled (it belongs to whichever consumer of the process is receiving
for all of them, and is cancelled when that consumer's socket closes), redis-py drops the
connection; a message Redis had already popped for it is gone: a lost takeover event, a command
that never reaches its station (django/channels_redis#366, seen here under station churn).

Shielding the pop lets it finish into the backup queue even when its waiter is cancelled; the next
receive's clean-up moves backed-up messages to the front of the queue, so the message is delivered,
late rather than never.
"""

from __future__ import annotations

import asyncio

from channels_redis.core import RedisChannelLayer


class ShieldedRedisChannelLayer(RedisChannelLayer):
    async def _brpop_with_clean(self, index, channel, timeout):
        pop = asyncio.ensure_future(super()._brpop_with_clean(index, channel, timeout))
        pop.add_done_callback(_consume_outcome)
        return await asyncio.shield(pop)


def _consume_outcome(task: asyncio.Future) -> None:
    """A pop whose waiter was cancelled may still fail (e.g. the layer closing): nobody awaits it,
    so its exception is taken here rather than logged as never retrieved."""
    if not task.cancelled():
        task.exception()
