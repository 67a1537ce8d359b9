"""1.6 FirmwareManagement, diagnostics: GetDiagnostics and DiagnosticsStatusNotification; and the
security whitepaper's GetLog and LogStatusNotification."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.core.state import Connector
from emulator.protocol.base import Trigger
from emulator.protocol.diagnostics import DiagnosticsBlock

STATUS = "DiagnosticsStatusNotification"
LOG_STATUS = "LogStatusNotification"


class Diagnostics16(DiagnosticsBlock):
    def triggers(self) -> dict[str, Trigger]:
        return super().triggers() | {
            STATUS: self._send_diagnostics_status,
            LOG_STATUS: self._send_log_status,
        }

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location: str, **_: Any) -> dict[str, Any]:
        self.station.spawn(self._upload(STATUS, location, "Diagnostics", "UploadFailed"))
        return {"fileName": f"{self.station.identity}-diagnostics.log"}

    @on(Action.get_log)
    def on_get_log(
        self, log_type: str, request_id: int, log: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        location = log["remote_location"]
        self.station.spawn(
            self._upload(LOG_STATUS, location, log_type, "UploadFailure", requestId=request_id)
        )
        return {"status": "Accepted", "filename": f"{self.station.identity}-{log_type}.log"}

    async def _send_diagnostics_status(self, connectors: list[Connector]) -> None:
        await self.station.call(STATUS, {"status": "Idle"})

    async def _send_log_status(self, connectors: list[Connector]) -> None:
        await self.station.call(LOG_STATUS, {"status": "Idle"})
