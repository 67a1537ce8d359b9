"""1.6 FirmwareManagement: UpdateFirmware (its answer is empty, and FirmwareStatusNotification
carries no request id); the security whitepaper's SignedUpdateFirmware (answered with a status,
reported with SignedFirmwareStatusNotification and the request id)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.protocol.firmware import FirmwareBlock

SIGNED_STATUS = "SignedFirmwareStatusNotification"


class Firmware16(FirmwareBlock):
    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> dict[str, Any]:
        self._start_update(location, "FirmwareStatusNotification")
        return {}

    @on(Action.signed_update_firmware)
    def on_signed_update_firmware(
        self, request_id: int, firmware: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        cancelled = self._start_update(
            firmware["location"],
            SIGNED_STATUS,
            firmware.get("signature", ""),
            firmware.get("signing_certificate", ""),
            requestId=request_id,
        )
        return {"status": "AcceptedCanceled" if cancelled else "Accepted"}
