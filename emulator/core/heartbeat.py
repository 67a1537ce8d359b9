"""The heartbeat timer: one Heartbeat per interval while the station is online, whatever else it
sends (a CSMS must cope with the plain behaviour before the clever one).

The interval is the `heartbeat_interval` option if given, else the HeartbeatInterval setting, which
the boot answer and a CSMS (ChangeConfiguration, SetVariables) may change at any time; a change
restarts the count at once rather than after the old interval, as a real station does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from emulator.core.device import Device
from emulator.core.options import StationOptions

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


class Heartbeat:
    def __init__(self, options: StationOptions, device: Device) -> None:
        self.options = options
        self.device = device
        self.changed = asyncio.Event()

    def interval(self) -> float:
        return self.options.heartbeat_interval or self.device.integer("HeartbeatInterval")

    def setting_changed(self, key: str) -> None:
        """The device's change listener."""
        if key == "HeartbeatInterval":
            self.changed.set()

    async def run(self, call: Call) -> None:
        """Send a Heartbeat through `call` every interval, for as long as the session lasts."""
        while True:
            interval = self.interval()
            self.changed.clear()
            try:
                async with asyncio.timeout(max(interval, 1)):
                    await self.changed.wait()
                continue  # a new interval: start counting it now
            except TimeoutError:
                pass
            await call("Heartbeat", {})
