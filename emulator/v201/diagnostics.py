"""2.0.1 block N, diagnostics: GetLog and LogStatusNotification."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.core.state import Connector
from emulator.protocol.base import Trigger
from emulator.protocol.diagnostics import DiagnosticsBlock

STATUS = "LogStatusNotification"


class Diagnostics201(DiagnosticsBlock):
    def triggers(self) -> dict[str, Trigger]:
        return super().triggers() | {STATUS: self._send_log_status}

    @on(Action.get_log)
    def on_get_log(
        self, log_type: str, request_id: int, log: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        location = log["remote_location"]
        self.station.spawn(
            self._upload(STATUS, location, log_type, "UploadFailure", requestId=request_id)
        )
        return {"status": "Accepted", "filename": f"{self.station.identity}-{log_type}.log"}

    async def _send_log_status(self, connectors: list[Connector]) -> None:
        await self.station.call(STATUS, {"status": "Idle"})
