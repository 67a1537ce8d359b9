"""Reservations: the driver's request, the station's answer, and the lifecycle in between.

A reservation is made in two steps. First, in one database transaction, a connector is claimed: the
station row is locked, then the connector is checked to be free (no other active reservation on it),
and a `pending` reservation is stored. Whoever comes second waits for the lock and then finds the
connector taken, so a connector is never double-booked. Second, outside any transaction, ReserveNow
goes to the station over the channel layer and its answer moves the reservation to accepted,
occupied, faulted, unavailable, rejected or no_response. Expiry is decided by the server's clock:
`reservation_expire_due` runs periodically, once per cluster (stations/background.py), and before
the API lists reservations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from reservations.models import Reservation
from stations.clock import ocpp_time, utcnow
from stations.db import in_db_thread
from stations.events import publish
from stations.models import Connector, RegistrationStatus, Station, StationEvent
from stations.remote.delivery import send_command
from stations.remote.results import CommandResult, Outcome

_STATION_UPDATES = {"Expired": Reservation.Status.EXPIRED, "Removed": Reservation.Status.REMOVED}
_ANSWERS = {
    "Accepted": Reservation.Status.ACCEPTED,
    "Occupied": Reservation.Status.OCCUPIED,
    "Faulted": Reservation.Status.FAULTED,
    "Unavailable": Reservation.Status.UNAVAILABLE,
    "Rejected": Reservation.Status.REJECTED,
}


class NothingAvailable(Exception):
    """No connected, Accepted station has a free connector (or the named one is not connected)."""


class ReservationConflict(Exception):
    """The named connector is already reserved."""


@dataclass(frozen=True)
class ReservationRequest:
    """What a driver or an operator asks for. No station: any connected one with a free
    connector; no EVSE: any free one of the station; `reservation_id`: replace that reservation
    (OCPP's ReserveNow with a known id updates it)."""

    id_token: str
    expires_at: datetime
    station_id: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    reservation_id: int | None = None


@dataclass(frozen=True)
class ReservationResult:
    reservation: Reservation
    command: CommandResult
    station_status: str = ""


# --- reacting to stations ---------------------------------------------------------------------------


def announce(reservation_id: int, station_id: str, status: str, **details: object) -> None:
    publish("reservation", id=reservation_id, station=station_id, status=status, **details)


def reservation_use(station_id: str, reservation_id: int, transaction_id: int) -> bool:
    """A transaction started on this reservation: it is used. Another station's id changes nothing."""
    used = Reservation.objects.filter(
        pk=reservation_id, station_id=station_id, status__in=Reservation.ACTIVE
    ).update(status=Reservation.Status.USED, transaction_id=transaction_id)
    if used:
        announce(reservation_id, station_id, Reservation.Status.USED)
    else:
        _not_the_stations(station_id, reservation_id, "UnknownReservationUse")
    return bool(used)


def reservation_owned(station_id: str, reservation_id: int) -> bool:
    return Reservation.objects.filter(pk=reservation_id, station_id=station_id).exists()


def reservation_station_update(station_id: str, reservation_id: int, update: str) -> bool:
    """2.0.1 ReservationStatusUpdate: the station expired or removed the reservation."""
    status = _STATION_UPDATES.get(update)
    if status is None:
        return False
    changed = Reservation.objects.filter(
        pk=reservation_id, station_id=station_id, status__in=Reservation.ACTIVE
    ).update(status=status)
    if changed:
        announce(reservation_id, station_id, status)
    else:
        _not_the_stations(station_id, reservation_id, "UnknownReservationUpdate", update=update)
    return bool(changed)


def _not_the_stations(station_id: str, reservation_id: int, type_: str, **data: object) -> None:
    """A station named a reservation id that is not one of its own (another station's, or none at
    all): nothing was changed; the operator sees an anomaly. Its own reservation that is no longer
    active (used, expired, cancelled) is an ordinary late message and is not flagged."""
    if Reservation.objects.filter(pk=reservation_id, station_id=station_id).exists():
        return
    StationEvent.objects.create(
        station_id=station_id,
        kind=StationEvent.Kind.ANOMALY,
        type=type_,
        message=f"Reservation {reservation_id} is not a reservation of this station; ignored",
        data={"reservation_id": reservation_id, **data},
    )


def reservation_expire_due() -> int:
    """Expire every active reservation whose time has passed, whatever its station said."""
    due = list(
        Reservation.objects.filter(
            status__in=Reservation.ACTIVE, expires_at__lte=utcnow()
        ).values_list("pk", "station_id")
    )
    if not due:
        return 0
    expired = Reservation.objects.filter(
        pk__in=[pk for pk, _ in due], status__in=Reservation.ACTIVE
    ).update(status=Reservation.Status.EXPIRED)
    for pk, station_id in due:
        announce(pk, station_id, Reservation.Status.EXPIRED)
    return expired


# --- the driver's side -------------------------------------------------------------------------------


def _active_on(station_id: str, evse_id: int, exclude: int | None) -> bool:
    query = Reservation.objects.filter(
        station_id=station_id,
        evse_id=evse_id,
        status__in=Reservation.ACTIVE,
        expires_at__gt=utcnow(),
    )
    if exclude is not None:
        query = query.exclude(pk=exclude)
    return query.exists()


def _free_evse(station_id: str, exclude: int | None) -> tuple[int, int] | None:
    """An Available connector of the station with no active reservation on its EVSE."""
    for evse_id, connector_id in Connector.objects.filter(
        station_id=station_id, status="Available"
    ).values_list("evse_id", "connector_id"):
        if not _active_on(station_id, evse_id, exclude):
            return evse_id, connector_id
    return None


def _known_status(station_id: str, evse_id: int, connector_id: int | None) -> str | None:
    """What the CSMS last heard of an EVSE (or one of its connectors): "Available" if any of its
    connectors is, else the status of one that is not, None if the station never reported it.

    A request naming an EVSE the CSMS knows is not available is answered like "nothing available"
    (503) without asking the station; only an unknown or Available one is worth a ReserveNow."""
    query = Connector.objects.filter(station_id=station_id, evse_id=evse_id).exclude(status="")
    if connector_id is not None:
        query = query.filter(connector_id=connector_id)
    statuses = list(query.values_list("status", flat=True))
    if not statuses:
        return None
    return "Available" if "Available" in statuses else statuses[0]


def _knows_connectors(station_id: str) -> bool:
    return Connector.objects.filter(station_id=station_id).exists()


def _connectable() -> Q:
    return Q(connected=True, registration_status=RegistrationStatus.ACCEPTED)


def reservation_claim(*, user: Any, request: ReservationRequest) -> Reservation:
    """Lock, then check, then store a pending reservation (one transaction)."""
    id_token, expires_at = request.id_token, request.expires_at
    station_id, evse_id, connector_id = request.station_id, request.evse_id, request.connector_id
    reservation_id = request.reservation_id
    with transaction.atomic():
        replacing = None
        if reservation_id is not None:
            replacing = (
                Reservation.objects.select_for_update()
                .filter(pk=reservation_id, status__in=Reservation.ACTIVE)
                .first()
            )
            if replacing is None:
                raise ReservationConflict(f"Reservation {reservation_id} is not active")
            station_id = station_id or replacing.station_id
            if station_id != replacing.station_id:
                raise ReservationConflict("A reservation cannot move to another station")
            evse_id = evse_id or replacing.evse_id

        if station_id is not None:
            candidates = [station_id]
        else:
            candidates = list(
                Station.objects.filter(_connectable(), connectors__status="Available")
                .distinct()
                .order_by("id")
                .values_list("id", flat=True)
            )
        for candidate in candidates:
            station = (
                Station.objects.select_for_update().filter(_connectable(), pk=candidate).first()
            )
            if station is None:
                if station_id is not None:
                    raise NothingAvailable(f"No such Charge Point. [{station_id}]")
                continue
            exclude = replacing.pk if replacing else None
            chosen: tuple[int | None, int | None] | None
            if evse_id is not None:
                if _active_on(candidate, evse_id, exclude):
                    raise ReservationConflict(f"EVSE {evse_id} of {candidate} is already reserved")
                known = _known_status(candidate, evse_id, connector_id)
                if known is not None and known != "Available":
                    raise NothingAvailable(f"EVSE {evse_id} of {candidate} is {known}.")
                if connector_id is None and replacing is not None and replacing.evse_id == evse_id:
                    connector_id = replacing.connector_id  # re-reserving keeps what was chosen
                chosen = (evse_id, connector_id)
            else:
                chosen = _free_evse(candidate, exclude)
                if chosen is None and station_id is not None and not _knows_connectors(candidate):
                    chosen = (None, None)  # nothing reported yet: the station picks a connector
                if chosen is None:
                    continue
            fields = {
                "station": station,
                "evse_id": chosen[0],
                "connector_id": chosen[1],
                "id_token": id_token,
                "expires_at": expires_at,
                "status": Reservation.Status.PENDING,
            }
            if replacing is not None:
                for name, value in fields.items():
                    setattr(replacing, name, value)
                replacing.save()
                claimed = replacing
            else:
                claimed = Reservation.objects.create(
                    user=user if _is_user(user) else None, **fields
                )
            announce(
                claimed.pk,
                candidate,
                claimed.status,
                evse_id=claimed.evse_id,
                id_token=claimed.id_token,
                expires_at=claimed.expires_at.isoformat(),
            )
            return claimed
    where = f" at {station_id}" if station_id else ""
    raise NothingAvailable(f"No charging station with an available connector{where}.")


def _is_user(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def reserve_now_payload(reservation: Reservation, protocol: str) -> dict[str, Any]:
    expiry = ocpp_time(reservation.expires_at)
    if protocol == "1.6":
        return {
            "connectorId": reservation.evse_id or 0,
            "expiryDate": expiry,
            "idTag": reservation.id_token,
            "reservationId": reservation.pk,
        }
    payload: dict[str, Any] = {
        "id": reservation.pk,
        "expiryDateTime": expiry,
        "idToken": {"idToken": reservation.id_token, "type": "ISO14443"},
    }
    if reservation.evse_id:
        payload["evseId"] = reservation.evse_id
    return payload


def _apply_answer(reservation_id: int, result: CommandResult) -> tuple[Reservation, str]:
    station_status = (result.payload or {}).get("status", "")
    if result.outcome == Outcome.ANSWERED:
        status = _ANSWERS.get(station_status, Reservation.Status.REJECTED)
    elif result.outcome == Outcome.TIMEOUT:
        status = Reservation.Status.NO_RESPONSE
    elif result.outcome == Outcome.NOT_CONNECTED:
        status = Reservation.Status.UNAVAILABLE
    else:
        status = Reservation.Status.REJECTED
    Reservation.objects.filter(pk=reservation_id).update(status=status, updated_at=utcnow())
    reservation = Reservation.objects.select_related("station", "user").get(pk=reservation_id)
    announce(reservation.pk, reservation.station_id, status)
    return reservation, station_status


async def reserve(*, user: Any, request: ReservationRequest) -> ReservationResult:
    """Claim a connector, send ReserveNow, record and return the station's answer."""
    claimed = await in_db_thread(reservation_claim)(user=user, request=request)
    protocol = await in_db_thread(
        lambda: Station.objects.values_list("protocol", flat=True).get(pk=claimed.station_id)
    )()
    result = await send_command(
        claimed.station_id,
        "ReserveNow",
        reserve_now_payload(claimed, protocol),
        requested_by=user,
        source="reservation",
    )
    reservation, station_status = await in_db_thread(_apply_answer)(claimed.pk, result)
    return ReservationResult(reservation, result, station_status)


@in_db_thread
def reservation_of(station_id: str, reservation_id: int) -> Reservation | None:
    return Reservation.objects.filter(pk=reservation_id, station_id=station_id).first()


def _mark_cancelled(reservation_id: int) -> Reservation:
    Reservation.objects.filter(pk=reservation_id).update(
        status=Reservation.Status.CANCELLED, updated_at=utcnow()
    )
    reservation = Reservation.objects.select_related("station", "user").get(pk=reservation_id)
    announce(reservation.pk, reservation.station_id, Reservation.Status.CANCELLED)
    return reservation


async def cancel(reservation: Reservation, *, user: Any) -> ReservationResult:
    """Send CancelReservation. The reservation ends cancelled when the station confirms it, says it
    does not know it (Rejected: nothing to cancel there), or is offline (it will expire there);
    a CALLERROR or a timeout leaves it as it was."""
    result = await send_command(
        reservation.station_id,
        "CancelReservation",
        {"reservationId": reservation.pk},
        requested_by=user,
        source="reservation",
    )
    if result.outcome in (Outcome.ANSWERED, Outcome.NOT_CONNECTED):
        reservation = await in_db_thread(_mark_cancelled)(reservation.pk)
    return ReservationResult(reservation, result, (result.payload or {}).get("status", ""))
