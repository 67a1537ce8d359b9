"""Reservations, as both versions define them: a connector held for one token until a deadline.

The rules are the same in 1.6 and 2.0.1 (which status a ReserveNow gets, that a reservation id
reused elsewhere replaces the old one, expiry), so they live here; a version only parses its
ReserveNow and says how it reports a reservation's end (`ProtocolBase.reservation_ended`).
"""

from __future__ import annotations

import asyncio

from emulator.core.connectors import ConnectorStatus
from emulator.core.state import Connector, Reservation


class Reservations(ConnectorStatus):
    def reserve(self, connector: Connector | None, reservation: Reservation) -> str:
        """ReserveNow on this connector (None: none matched): the status both versions answer.
        A reservation with the same id elsewhere is replaced, as both versions require."""
        self.cancel_reservation(reservation.id)
        if connector is None:
            return "Rejected"
        if connector.faulted:
            return "Faulted"
        if not connector.operative:
            return "Unavailable"
        if connector.transaction is not None or connector.reservation is not None:
            return "Occupied"
        connector.reservation = reservation
        self.spawn(self.refresh_status(connector))
        self.spawn(self.expire_reservation_later(connector, reservation))
        return "Accepted"

    def cancel_reservation(self, reservation_id: int) -> bool:
        for connector in self.connectors.values():
            if connector.reservation is not None and connector.reservation.id == reservation_id:
                connector.reservation = None
                self.spawn(self.refresh_status(connector))
                return True
        return False

    async def expire_reservation_later(
        self, connector: Connector, reservation: Reservation
    ) -> None:
        delay = (reservation.expires_at - self.now()).total_seconds()
        await asyncio.sleep(max(delay, 0))
        if connector.reservation is reservation:
            connector.reservation = None
            await self.protocol.reservation_ended(reservation, "Expired")
            await self.refresh_status(connector)
