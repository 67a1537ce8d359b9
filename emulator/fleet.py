"""Many emulated stations from one process: a ramped start, random driver sessions, and the
figures a load test needs (time until every station is booted, frames per second, CPU, memory)."""

from __future__ import annotations

import asyncio
import random
import resource
import time
from dataclasses import dataclass
from typing import Any

from emulator.station import EmulatedStation


@dataclass
class FleetReport:
    stations: int
    online: int
    boot_seconds: float | None
    frames_sent: int
    frames_received: int
    seconds: float
    cpu_seconds: float
    max_rss_mb: float
    sessions: int
    dropped: int

    def lines(self) -> list[str]:
        boot = f"{self.boot_seconds:.1f} s" if self.boot_seconds is not None else "not all booted"
        rate = (self.frames_sent + self.frames_received) / self.seconds if self.seconds else 0
        return [
            f"stations: {self.stations}, online at the end: {self.online}, all booted in: {boot}",
            f"frames: {self.frames_sent} sent, {self.frames_received} received, "
            f"{rate:.0f}/s over {self.seconds:.1f} s",
            f"sessions started: {self.sessions}, transaction messages dropped: {self.dropped}",
            f"emulator CPU: {self.cpu_seconds:.1f} s, max RSS: {self.max_rss_mb:.0f} MB",
        ]


class Fleet:
    def __init__(
        self,
        stations: list[EmulatedStation],
        *,
        ramp: float = 0.0,
        charging: float = 0.0,
        session_seconds: tuple[float, float] = (60.0, 600.0),
        drop_after: float | None = None,
        rng: random.Random | None = None,
    ):
        self.stations = stations
        self.ramp = ramp
        self.charging = charging
        self.session_seconds = session_seconds
        self.drop_after = drop_after
        self.rng = rng or random.Random()
        self.sessions = 0
        self.all_online_at: float | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    async def run(self, stop: asyncio.Event) -> FleetReport:
        started, cpu_start = time.monotonic(), time.process_time()
        watcher = asyncio.create_task(self._watch_boot(started))
        for index, station in enumerate(self.stations):
            self._tasks.append(asyncio.create_task(station.run()))
            if self.rng.random() < self.charging:
                self._tasks.append(asyncio.create_task(self._drive(station)))
            if self.ramp and index + 1 < len(self.stations):
                await asyncio.sleep(1 / self.ramp)
        await stop.wait()
        online = sum(s.online.is_set() for s in self.stations)
        for station in self.stations:
            station.stop()
            station.close_connection()
        watcher.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(watcher, *self._tasks, return_exceptions=True)
        return FleetReport(
            stations=len(self.stations),
            online=online,
            boot_seconds=self.all_online_at - started if self.all_online_at else None,
            frames_sent=sum(s.stats.sent for s in self.stations),
            frames_received=sum(s.stats.received for s in self.stations),
            seconds=time.monotonic() - started,
            cpu_seconds=time.process_time() - cpu_start,
            max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            sessions=self.sessions,
            dropped=sum(s.stats.dropped for s in self.stations),
        )

    async def _watch_boot(self, started: float) -> None:
        await asyncio.gather(*(s.online.wait() for s in self.stations))
        self.all_online_at = time.monotonic()

    async def _drive(self, station: EmulatedStation) -> None:
        """Back-to-back random sessions on the station's connectors, like a busy site."""
        while True:
            await station.online.wait()
            connector = self.rng.choice(list(station.connectors))
            seconds = self.rng.uniform(*self.session_seconds)
            token = f"TAG-{station.identity}"[:20]
            self.sessions += 1
            if self.drop_after is not None:
                station.spawn(self._drop_later(station, self.drop_after))
            if not await station.session(connector, token, seconds):
                await asyncio.sleep(self.rng.uniform(1, 5))

    async def _drop_later(self, station: EmulatedStation, seconds: float) -> None:
        """Fault injection: lose the connection mid-transaction, without a closing handshake."""
        await asyncio.sleep(seconds)
        station.drop_connection()
