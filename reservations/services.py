"""Reservation state changes that stations cause (the REST API adds the driver's side)."""

from __future__ import annotations

from reservations.models import Reservation

_STATION_UPDATES = {"Expired": Reservation.Status.EXPIRED, "Removed": Reservation.Status.REMOVED}


def reservation_use(station_id: str, reservation_id: int, transaction_id: int) -> bool:
    """A transaction started on this reservation: it is used. Another station's id changes nothing."""
    return bool(
        Reservation.objects.filter(
            pk=reservation_id, station_id=station_id, status__in=Reservation.ACTIVE
        ).update(status=Reservation.Status.USED, transaction_id=transaction_id)
    )


def reservation_station_update(station_id: str, reservation_id: int, update: str) -> bool:
    """2.0.1 ReservationStatusUpdate: the station expired or removed the reservation."""
    status = _STATION_UPDATES.get(update)
    if status is None:
        return False
    return bool(
        Reservation.objects.filter(
            pk=reservation_id, station_id=station_id, status__in=Reservation.ACTIVE
        ).update(status=status)
    )
