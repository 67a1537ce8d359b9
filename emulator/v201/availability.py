"""2.0.1 block G, availability: StatusNotification, ChangeAvailability and UnlockConnector."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.core.state import Connector
from emulator.protocol.availability import AvailabilityBlock

# The station's connector vocabulary (1.6's) to 2.0.1 ConnectorStatusEnumType.
CONNECTOR_STATUS = {
    "Available": "Available",
    "Preparing": "Occupied",
    "Charging": "Occupied",
    "SuspendedEV": "Occupied",
    "SuspendedEVSE": "Occupied",
    "Finishing": "Occupied",
    "Reserved": "Reserved",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
}


class Availability201(AvailabilityBlock):
    def status_payload(self, connector: Connector) -> dict[str, Any]:
        return {
            "timestamp": self.station.timestamp(),
            "connectorStatus": CONNECTOR_STATUS[connector.status],
            "evseId": connector.evse_id,
            "connectorId": 1,
        }

    @on(Action.change_availability)
    def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> dict[str, Any]:
        """No EVSE, or EVSE 0: the whole station."""
        connectors = self.station.connectors
        evse_id = evse.get("id") if evse else None
        targets = [connectors[evse_id]] if evse_id in connectors else list(connectors.values())
        if evse and evse_id not in connectors and evse_id != 0:
            return {"status": "Rejected"}
        return self._set_operative(targets, operational_status == "Operative")

    @on(Action.unlock_connector)
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any) -> dict[str, Any]:
        """A connector in use stays locked (use case F05): the driver must stop first."""
        connector = self.station.connectors.get(evse_id)
        if connector is None or connector_id != 1:
            return {"status": "UnknownConnector"}
        if connector.transaction is not None:
            return {"status": "OngoingAuthorizedTransaction"}
        return {"status": "Unlocked"}
