"""1.6 Core, meter values: the sampled values of every 1.6 message that carries them, and the
MeterValues a TriggerMessage asks for."""

from __future__ import annotations

from typing import Any

from emulator.core.state import Connector
from emulator.protocol.base import ProtocolBase, Trigger


class MeterValues16(ProtocolBase):
    def triggers(self) -> dict[str, Trigger]:
        return super().triggers() | {"MeterValues": self._send_meter_values}

    def _sample(
        self, connector_wh: float, context: str, power_w: float | None = None
    ) -> dict[str, Any]:
        """One MeterValue: the energy register and, if given, the power (values are strings)."""
        sampled = [
            {
                "value": f"{connector_wh:.1f}",
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            }
        ]
        if power_w is not None:
            sampled.append(
                {
                    "value": f"{power_w:.1f}",
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "unit": "W",
                }
            )
        return {"timestamp": self.station.timestamp(), "sampledValue": sampled}

    async def _send_meter_values(self, connectors: list[Connector]) -> None:
        for connector in connectors:
            self.station.advance_meter(connector)
            payload: dict[str, Any] = {
                "connectorId": connector.evse_id,
                "meterValue": [self._sample(connector.meter_wh, "Trigger")],
            }
            if connector.transaction is not None and connector.transaction.csms_id:
                payload["transactionId"] = connector.transaction.csms_id
            await self.station.call("MeterValues", payload)
