"""What the stations app asks of reservations, without importing them.

Stations name reservations in their messages (a 1.6 StartTransaction's `reservationId`, a 2.0.1
TransactionEvent's `reservationId`, ReservationStatusUpdate). Those rows belong to the
`reservations` app, which depends on `stations` — so the dependency points one way only, the
reservations app plugs its functions in here when it starts (`ReservationsConfig.ready`). Without
it, the ids stations send are ignored.

Each function runs inside the caller's database work (the single hop per message).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Owned(Protocol):
    def __call__(self, station_id: str, reservation_id: int) -> bool: ...


class Use(Protocol):
    def __call__(self, station_id: str, reservation_id: int, transaction_id: int) -> bool: ...


class StationUpdate(Protocol):
    def __call__(self, station_id: str, reservation_id: int, update: str) -> bool: ...


def _never(*_: object, **__: object) -> bool:
    """Until the reservations app connects: any of the three, called however it is called."""
    return False


@dataclass
class ReservationLink:
    owned: Owned = _never  # is it one of this station's reservations?
    use: Use = _never  # a transaction started on it
    station_update: StationUpdate = _never  # 2.0.1 ReservationStatusUpdate (Expired, Removed)


link = ReservationLink()


def connect(*, owned: Owned, use: Use, station_update: StationUpdate) -> None:
    link.owned, link.use, link.station_update = owned, use, station_update
