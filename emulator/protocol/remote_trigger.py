"""Remote trigger (2.0.1 TriggerMessage in block F, 1.6 RemoteTrigger): send a message now.

Which messages can be triggered is the sum of what the blocks offer (`ProtocolBase.triggers`), so a
new block makes its own message triggerable without touching this one; anything else is answered
NotImplemented. The boot, heartbeat and status triggers are the same in both versions.
"""

from __future__ import annotations

from typing import Any

from emulator.core.state import Connector
from emulator.protocol.base import ProtocolBase, Trigger


class RemoteTriggerBlock(ProtocolBase):
    def triggers(self) -> dict[str, Trigger]:
        return super().triggers() | {
            "BootNotification": self._send_boot,
            "Heartbeat": self._send_heartbeat,
            "StatusNotification": self._send_statuses,
        }

    def _trigger(self, requested_message: str, evse_id: int | None) -> dict[str, Any]:
        """TriggerMessage's answer; the message goes out after it, for the EVSE named (if the
        station has it) or for all."""
        trigger = self.triggers().get(requested_message)
        if trigger is None:
            return {"status": "NotImplemented"}
        station = self.station
        connectors = (
            [station.connectors[evse_id]]
            if evse_id is not None and evse_id in station.connectors
            else list(station.connectors.values())
        )
        station.spawn(trigger(connectors))
        return {"status": "Accepted"}

    async def _send_boot(self, connectors: list[Connector]) -> None:
        # Not through `call`: a triggered boot is sent even before the station is accepted.
        rpc = self.station.rpc
        if rpc is not None:
            await rpc.call("BootNotification", self.boot_payload("Triggered"))

    async def _send_heartbeat(self, connectors: list[Connector]) -> None:
        await self.station.call("Heartbeat", {})

    async def _send_statuses(self, connectors: list[Connector]) -> None:
        for connector in connectors:
            await self.station.call("StatusNotification", self.status_payload(connector))
