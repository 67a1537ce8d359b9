"""1.6 FirmwareManagement, diagnostics: GetDiagnostics and DiagnosticsStatusNotification."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.core.state import Connector
from emulator.protocol.base import Trigger
from emulator.protocol.diagnostics import DiagnosticsBlock

STATUS = "DiagnosticsStatusNotification"


class Diagnostics16(DiagnosticsBlock):
    def triggers(self) -> dict[str, Trigger]:
        return super().triggers() | {STATUS: self._send_diagnostics_status}

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location: str, **_: Any) -> dict[str, Any]:
        self.station.spawn(self._upload(STATUS))
        return {"fileName": f"{self.station.identity}-diagnostics.log"}

    async def _send_diagnostics_status(self, connectors: list[Connector]) -> None:
        await self.station.call(STATUS, {"status": "Idle"})
