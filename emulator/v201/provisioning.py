"""2.0.1 block B, provisioning: BootNotification (with its reason) and Reset (OnIdle waits)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.protocol.provisioning import ProvisioningBlock


class Provisioning201(ProvisioningBlock):
    def boot_payload(self, reason: str = "PowerUp") -> dict[str, Any]:
        options = self.station.options
        return {
            "chargingStation": {
                "model": options.model,
                "vendorName": options.vendor,
                "serialNumber": self.station.device.settings["ChargingStation.SerialNumber"].value,
                "firmwareVersion": options.firmware_version,
            },
            "reason": reason,
        }

    @on(Action.reset)
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> dict[str, Any]:
        """OnIdle with a transaction running: Scheduled, and the core reboots after the last
        transaction ends (`ChargingSessions.stop_transaction`)."""
        busy = any(c.transaction for c in self.station.connectors.values())
        if type == "OnIdle" and busy:
            self.station.pending_reset = type
            return {"status": "Scheduled"}
        self.station.spawn(self.reboot())
        return {"status": "Accepted"}

    async def reboot(self) -> None:
        await self._reboot("ImmediateReset")
