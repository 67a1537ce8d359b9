"""The reservation commands, declared in the catalog of `stations.remote`.

ReserveNow and CancelReservation have a domain of their own: a reservation is claimed before
ReserveNow goes out, and its status follows the station's answer. So an operator's button performs
them through `reservations.services` (`perform`), while a raw REST or CLI call sends the payload it
is given, like any other command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from reservations import services
from stations.clock import utcnow
from stations.remote.catalog import CommandSpec, NotFound, both, register
from stations.remote.forms import FormInput, Number, Text
from stations.remote.results import CommandResult

MAX_MINUTES = 24 * 60


@dataclass(frozen=True)
class ReserveInput(FormInput):
    """The operator's reservation: a token, optionally an EVSE, for some minutes from now."""

    id_token: str
    evse_id: int | None = None
    minutes: int = 15

    fields = (
        Text("id_token", "ID token", placeholder="ID token"),
        Number("evse_id", "EVSE", minimum=1, placeholder="EVSE (any)"),
        Number("minutes", "Minutes", default=15, minimum=1, maximum=MAX_MINUTES),
    )


async def _reserve(
    value: ReserveInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    request = services.ReservationRequest(
        id_token=value.id_token,
        expires_at=utcnow() + timedelta(minutes=value.minutes),
        station_id=station_id,
        evse_id=value.evse_id,
    )
    result = await services.reserve(user=user, request=request)
    return f"ReserveNow #{result.reservation.pk}", result.command


@dataclass(frozen=True)
class CancelInput(FormInput):
    reservation_id: int

    fields = (Number("reservation_id", "Reservation", required=True),)


async def _cancel(
    value: CancelInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    reservation = await services.reservation_of(station_id, value.reservation_id)
    if reservation is None:
        raise NotFound(f"{station_id} has no reservation {value.reservation_id}")
    result = await services.cancel(reservation, user=user)
    return f"CancelReservation #{reservation.pk}", result.command


RESERVE = register(
    CommandSpec("reserve", "Reserve", both("ReserveNow"), ReserveInput, perform=_reserve)
)
CANCEL_RESERVATION = register(
    CommandSpec(
        "cancel-reservation",
        "Cancel reservation",
        both("CancelReservation"),
        CancelInput,
        perform=_cancel,
        on_page=False,  # each active reservation's row has its cancel button
    )
)
