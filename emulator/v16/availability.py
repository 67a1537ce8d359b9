"""1.6 Core, availability: StatusNotification, ChangeAvailability and UnlockConnector."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.core.state import Connector
from emulator.protocol.availability import AvailabilityBlock


class Availability16(AvailabilityBlock):
    def status_payload(self, connector: Connector) -> dict[str, Any]:
        return {
            "connectorId": connector.evse_id,
            "errorCode": "OtherError" if connector.faulted else "NoError",
            "status": connector.status,
            "timestamp": self.station.timestamp(),
        }

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **_: Any) -> dict[str, Any]:
        connectors = self.station.connectors
        if connector_id != 0 and connector_id not in connectors:
            return {"status": "Rejected"}
        targets = list(connectors.values()) if connector_id == 0 else [connectors[connector_id]]
        return self._set_operative(targets, type == "Operative")

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, **_: Any) -> dict[str, Any]:
        """Unlocking a connector that charges ends its transaction (1.6 §5.18)."""
        connector = self.station.connectors.get(connector_id)
        if connector is None:
            return {"status": "NotSupported"}
        if connector.transaction is not None:
            self.station.spawn(self.station.stop_transaction(connector_id, "UnlockCommand"))
        return {"status": "Unlocked"}
