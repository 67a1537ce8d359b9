"""Emulated stations that tests watch, without polling and without patching their methods: the
station's parts look `enqueue` and `_observe` up on the station, so a subclass sees every
transaction message queued and every frame, both ways."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async

from emulator.station import EmulatedStation, OutboxItem, StationOptions
from stations.models import Station


class TappedStation(EmulatedStation):
    """Calls `on_queued` with every transaction message it queues and `on_frame` with every frame
    it sends or receives; both do nothing here."""

    def enqueue(
        self,
        action: str,
        build: Callable[[], dict[str, Any]],
        on_answer: Callable[[dict[str, Any]], Awaitable[Any] | None] | None = None,
    ) -> None:
        super().enqueue(action, build, on_answer)
        self.on_queued(self.outbox[-1])

    def _observe(
        self, direction: str, text: str, message_type: int, unique_id: str, action: str
    ) -> None:
        super()._observe(direction, text, message_type, unique_id, action)
        self.on_frame(direction, text, message_type, action)

    def on_queued(self, item: OutboxItem) -> None:
        pass

    def on_frame(self, direction: str, text: str, message_type: int, action: str) -> None:
        pass


class _NotifyingEvent(asyncio.Event):
    def __init__(self, changed: asyncio.Event):
        super().__init__()
        self._notify = changed

    def set(self) -> None:
        super().set()
        self._notify.set()

    def clear(self) -> None:
        super().clear()
        self._notify.set()


class WatchedStation(TappedStation):
    """`until(predicate)` wakes whenever the station queues a transaction message or goes on- or
    offline, is sent a CALL or gets an answer; `sent` holds (action, payload) of every CALL it sent,
    `received` the action of every CALL it was sent, `answered` the action of every CALL of its
    that the CSMS answered (its CALLRESULT or CALLERROR), in order."""

    def __init__(self, options: StationOptions, *, rng: random.Random | None = None) -> None:
        super().__init__(options, rng=rng)
        self.changed = asyncio.Event()
        self.online = _NotifyingEvent(self.changed)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.received: list[str] = []
        self.answered: list[str] = []
        self._calls_in: list[tuple[str, dict[str, Any]]] = []

    def on_queued(self, item: OutboxItem) -> None:
        self.changed.set()

    def on_frame(self, direction: str, text: str, message_type: int, action: str) -> None:
        if message_type == 2 and direction == "out":
            self.sent.append((action, json.loads(text)[3]))
        elif message_type == 2:
            self.received.append(action)
            self._calls_in.append((action, json.loads(text)[3]))
        elif direction == "in":  # the CSMS's answer to one of our CALLs
            self.answered.append(action)
        # Any frame may follow a change of the station's state (a CALL it carried out and now
        # answers): `until` checks its predicate again.
        self.changed.set()

    def sent_calls(self) -> list[tuple[str, dict[str, Any]]]:
        """(action, payload) of every CALL the CSMS sent this station, in order."""
        return list(self._calls_in)

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


async def shut_down(station: EmulatedStation, task: asyncio.Task[Any], grace: float) -> None:
    """Stop the station and close its socket; its `run()` task has `grace` seconds to end before
    it is cancelled."""
    station.stop()
    station.close_connection()
    try:
        await asyncio.wait_for(asyncio.shield(task), grace)
    except TimeoutError:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def running(
    server: Any,
    identity: str,
    version: str = "2.0.1",
    *,
    seed: int = 5,
    timeout: float = 10.0,
    **options: Any,
) -> AsyncIterator[WatchedStation]:
    """A registered, connected and booted WatchedStation of the live `server`, for the block."""
    await database_sync_to_async(Station.objects.create)(id=identity)
    station = WatchedStation(
        StationOptions(
            identity=identity,
            url=f"{server.url}/ocpp/",
            protocol=version,
            call_timeout=timeout,
            **options,
        ),
        rng=random.Random(seed),
    )
    task = asyncio.create_task(station.run())
    try:
        await asyncio.wait_for(station.online.wait(), timeout)
        yield station
    finally:
        await shut_down(station, task, 2)


def all_parts_answered(station: WatchedStation, action: str) -> Callable[[], bool]:
    """A predicate: the station sent the last part (tbc false) of its `action` report, and the
    CSMS answered every part (so all of them are stored)."""

    def done() -> bool:
        parts = [p for a, p in station.sent if a == action]
        return bool(parts) and not parts[-1]["tbc"] and station.answered.count(action) == len(parts)

    return done
