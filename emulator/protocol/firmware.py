"""Firmware management (2.0.1 block L, 1.6 FirmwareManagement): an update, as both versions report
it. The emulator installs nothing: it walks the statuses a successful update goes through, which is
what a CSMS has to follow, and remembers the last one for a triggered FirmwareStatusNotification.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.core.state import Connector
from emulator.protocol.base import ProtocolBase, Trigger

if TYPE_CHECKING:
    from emulator.station import EmulatedStation

INSTALL_STEPS = ("Downloading", "Downloaded", "Installing", "Installed")


class FirmwareBlock(ProtocolBase):
    def __init__(self, station: EmulatedStation) -> None:
        super().__init__(station)
        self.firmware_status = "Idle"

    def triggers(self) -> dict[str, Trigger]:
        return super().triggers() | {"FirmwareStatusNotification": self._send_firmware_status}

    async def _install_firmware(self, **extra: Any) -> None:
        """One FirmwareStatusNotification per step; `extra`: what the version adds to each."""
        for status in INSTALL_STEPS:
            self.firmware_status = status
            await self.station.call("FirmwareStatusNotification", {"status": status, **extra})

    async def _send_firmware_status(self, connectors: list[Connector]) -> None:
        await self.station.call("FirmwareStatusNotification", {"status": self.firmware_status})
