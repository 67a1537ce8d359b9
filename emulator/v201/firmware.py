"""2.0.1 block L, firmware management: UpdateFirmware (statuses carry the request id)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.protocol.firmware import FirmwareBlock


class Firmware201(FirmwareBlock):
    @on(Action.update_firmware)
    def on_update_firmware(
        self, request_id: int, firmware: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        self.station.spawn(self._install_firmware(requestId=request_id))
        return {"status": "Accepted"}
