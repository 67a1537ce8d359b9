"""2.0.1 block J, meter values: the sampled values of every 2.0.1 message that carries them, and
the MeterValues a TriggerMessage asks for (outside a transaction's events)."""

from __future__ import annotations

from typing import Any

from emulator.core.state import Connector
from emulator.protocol.base import ProtocolBase, Trigger


class MeterValues201(ProtocolBase):
    def triggers(self) -> dict[str, Trigger]:
        return super().triggers() | {"MeterValues": self._send_meter_values}

    def _register(self, value_wh: float, context: str) -> dict[str, Any]:
        """One MeterValue with the energy register (values are numbers, units in unitOfMeasure)."""
        return {
            "timestamp": self.station.timestamp(),
            "sampledValue": [
                {
                    "value": round(value_wh, 1),
                    "context": context,
                    "measurand": "Energy.Active.Import.Register",
                    "unitOfMeasure": {"unit": "Wh"},
                }
            ],
        }

    def _power(self, connector: Connector, context: str) -> dict[str, Any]:
        """The sampled value of the power `connector` charges at."""
        return {
            "value": round(self.station.power_w(connector), 1),
            "context": context,
            "measurand": "Power.Active.Import",
            "unitOfMeasure": {"unit": "W"},
        }

    async def _send_meter_values(self, connectors: list[Connector]) -> None:
        for connector in connectors:
            self.station.advance_meter(connector)
            sample = self._register(connector.meter_wh, "Trigger")
            await self.station.call(
                "MeterValues", {"evseId": connector.evse_id, "meterValue": [sample]}
            )
