"""Reservation (2.0.1 block H, 1.6 Reservation): CancelReservation, the same in both versions, and
reading a ReserveNow's expiry. The rules themselves are the core's (`emulator.core.reservations`).
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on

from emulator.core.state import Reservation
from emulator.protocol.base import ProtocolBase
from ocppj.errors import ErrorCode, OcppError
from stations.clock import parse_ocpp_time


class ReservationBlock(ProtocolBase):
    @on("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> dict[str, Any]:
        cancelled = self.station.cancel_reservation(reservation_id)
        return {"status": "Accepted" if cancelled else "Rejected"}

    def _reservation(self, reservation_id: int, id_token: str, expiry: str) -> Reservation:
        """The reservation a ReserveNow asks for (its expiry passed the schema's date-time check,
        so an unreadable one is a malformed request, not something to accept)."""
        expires_at = parse_ocpp_time(expiry)
        if expires_at is None:
            raise OcppError(ErrorCode.FORMAT_VIOLATION, f"unreadable expiry {expiry!r}")
        return Reservation(reservation_id, id_token, expires_at)
