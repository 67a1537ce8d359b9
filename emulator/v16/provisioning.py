"""1.6 Core, provisioning: BootNotification and Reset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.protocol.provisioning import ProvisioningBlock

if TYPE_CHECKING:
    from emulator.station import EmulatedStation


class Provisioning16(ProvisioningBlock):
    def __init__(self, station: EmulatedStation) -> None:
        super().__init__(station)
        self.reset_type = "Hard"  # of the last Reset: it names the stop reason of transactions

    def boot_payload(self, reason: str = "PowerUp") -> dict[str, Any]:
        """1.6 has no boot reason."""
        options = self.station.options
        return {
            "chargePointVendor": options.vendor,
            "chargePointModel": options.model,
            "chargePointSerialNumber": self.station.device.settings[
                "ChargingStation.SerialNumber"
            ].value,
            "firmwareVersion": options.firmware_version,
        }

    @on(Action.reset)
    def on_reset(self, type: str, **_: Any) -> dict[str, Any]:
        self.reset_type = type
        self.station.spawn(self.reboot())
        return {"status": "Accepted"}

    async def reboot(self) -> None:
        await self._reboot("HardReset" if self.reset_type == "Hard" else "SoftReset")
