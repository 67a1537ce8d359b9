"""1.6 Reservation: ReserveNow (CancelReservation is shared)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.core.state import Reservation
from emulator.protocol.reservation import ReservationBlock


class Reservation16(ReservationBlock):
    @on(Action.reserve_now)
    def on_reserve_now(
        self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **_: Any
    ) -> dict[str, Any]:
        """Connector 0: any free connector."""
        station = self.station
        if connector_id == 0:
            connector = next((c for c in station.connectors.values() if c.free), None)
        else:
            connector = station.connectors.get(connector_id)
        reservation = self._reservation(reservation_id, id_tag, expiry_date)
        return {"status": station.reserve(connector, reservation)}

    async def reservation_ended(self, reservation: Reservation, status: str) -> None:
        """1.6 has no message for it: the connector simply becomes Available again."""
