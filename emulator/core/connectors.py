"""Connector statuses: what each connector shows, and telling the CSMS when that changes.

A status is reported only when it changes, and every connector once after each accepted boot (the
CSMS may have missed changes while the station was offline); offline changes are not queued, as
status messages are not transaction messages.
"""

from __future__ import annotations

from emulator.core.rpc import RpcWiring
from emulator.core.state import Connector


class ConnectorStatus(RpcWiring):
    async def set_status(self, evse_id: int, status: str) -> None:
        connector = self.connectors[evse_id]
        if connector.status == status:
            return
        connector.status = status
        await self.call("StatusNotification", self.protocol.status_payload(connector))

    async def refresh_status(self, connector: Connector) -> None:
        """Report what an idle connector shows now (after a fault, a reservation, availability)."""
        if connector.transaction is None:
            await self.set_status(connector.evse_id, self.idle_status(connector))

    def idle_status(self, connector: Connector) -> str:
        """What a connector without a transaction shows."""
        if connector.faulted:
            return "Faulted"
        if not connector.operative:
            return "Unavailable"
        reservation = connector.reservation
        if reservation is not None and reservation.expires_at > self.now():
            return "Reserved"
        return "Available"

    async def _report_all_statuses(self) -> None:
        for connector in self.connectors.values():
            await self.call("StatusNotification", self.protocol.status_payload(connector))
