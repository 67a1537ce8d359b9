"""2.0.1 block H, reservation: ReserveNow and ReservationStatusUpdate (CancelReservation is
shared)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.core.state import Reservation
from emulator.protocol.reservation import ReservationBlock


class Reservation201(ReservationBlock):
    @on(Action.reserve_now)
    def on_reserve_now(
        self,
        id: int,
        expiry_date_time: str,
        id_token: dict[str, Any],
        evse_id: int | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        """No EVSE: the first one free."""
        reservation = self._reservation(id, id_token["id_token"], expiry_date_time)
        return {"status": self.station.reserve(self._connector_for(evse_id), reservation)}

    async def reservation_ended(self, reservation: Reservation, status: str) -> None:
        await self.station.call(
            "ReservationStatusUpdate",
            {"reservationId": reservation.id, "reservationUpdateStatus": status},
        )
