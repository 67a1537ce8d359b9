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
from stations.remote.catalog import (
    CommandSpec,
    Form,
    InputError,
    NotFound,
    both,
    form_int,
    form_text,
    register,
)
from stations.remote.results import CommandResult

MAX_MINUTES = 24 * 60


@dataclass(frozen=True)
class ReserveInput:
    """The operator's reservation: a token, optionally an EVSE, for some minutes from now."""

    id_token: str
    evse_id: int | None = None
    minutes: int = 15

    @classmethod
    def from_form(cls, form: Form) -> ReserveInput:
        minutes = form_int(form, "minutes", 15)
        if not 1 <= minutes <= MAX_MINUTES:
            raise InputError(f"minutes must be between 1 and {MAX_MINUTES}")
        evse = form.get("evse_id")
        return cls(
            id_token=form_text(form, "id_token"),
            evse_id=form_int(form, "evse_id") if evse not in (None, "") else None,
            minutes=minutes,
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
class CancelInput:
    reservation_id: int

    @classmethod
    def from_form(cls, form: Form) -> CancelInput:
        return cls(reservation_id=form_int(form, "reservation_id"))


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
    )
)
