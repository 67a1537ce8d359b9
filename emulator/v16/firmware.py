"""1.6 FirmwareManagement: UpdateFirmware. Its answer is empty, and the statuses carry no request
id."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.protocol.firmware import FirmwareBlock


class Firmware16(FirmwareBlock):
    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> dict[str, Any]:
        self.station.spawn(self._install_firmware())
        return {}
