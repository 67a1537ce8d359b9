"""Admitting a station's WebSocket: who it is, whether its password holds, and which socket is live."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F

from stations.clock import utcnow
from stations.events import publish
from stations.models import RegistrationStatus, Station, StationEvent
from stations.passwords import check_station_password
from stations.sql import SelectOne, update_fields

_station_locked = SelectOne(Station, ["id"], for_update=True)

logger = logging.getLogger("csms.security")


@dataclass(frozen=True)
class Admission:
    """The outcome of a handshake. `status` is the HTTP status to refuse with when not admitted."""

    admitted: bool
    status: int = 101
    reason: str = ""
    session: int = 0
    accepted: bool = False
    registration_status: str = ""


def station_admit(
    identity: str,
    credentials: tuple[str, bytes] | None,
    *,
    address: str,
    protocol: str,
    channel_name: str,
) -> Admission:
    """Authenticate a handshake and, if it holds, make this socket the station's live connection.

    The session counter only grows: the socket that claimed the highest number is the live one,
    which settles two sockets authenticating at once on different workers.
    """
    with transaction.atomic():
        station = _station_locked.get(identity)
        if station is None:
            if not settings.OCPP_AUTO_REGISTER:
                _record_refusal(identity, address, "UnknownStation", "Unknown station identity")
                return Admission(False, 404, "Unknown station")
            station = Station.objects.create(
                id=identity, registration_status=settings.OCPP_AUTO_REGISTER_STATUS
            )
            StationEvent.objects.create(
                station_id=identity,
                kind=StationEvent.Kind.CONNECTION,
                type="AutoRegistered",
                message=f"Registered on first connection from {address}",
            )

        problem = _credential_problem(station, identity, credentials)
        if problem:
            Station.objects.filter(pk=identity).update(
                failed_logins=F("failed_logins") + 1,
                last_failed_login_at=utcnow(),
                last_failed_login_address=address,
            )
            _record_refusal(identity, address, "InvalidCredentials", problem)
            return Admission(False, 401, "Invalid credentials")

        replaced = station.connected
        station.session += 1
        station.connected = True
        station.channel_name = channel_name
        station.protocol = protocol
        station.connected_at = utcnow()
        station.last_seen_at = station.connected_at
        station.remote_address = address
        update_fields(
            station,
            [
                "session",
                "connected",
                "channel_name",
                "protocol",
                "connected_at",
                "last_seen_at",
                "remote_address",
            ],
        )
        if replaced:
            StationEvent.objects.create(
                station_id=identity,
                kind=StationEvent.Kind.SECURITY,
                type="ConnectionReplaced",
                message=f"A new authenticated connection from {address} replaced the live one",
                data={"session": station.session},
            )
            logger.warning("%s: new connection from %s replaces the live one", identity, address)
    publish("station", id=identity, connected=True, protocol=protocol)
    return Admission(
        True,
        session=station.session,
        accepted=station.is_accepted,
        registration_status=station.registration_status,
    )


def _credential_problem(
    station: Station, identity: str, credentials: tuple[str, bytes] | None
) -> str:
    if not station.password_hash:
        if settings.OCPP_REQUIRE_PASSWORD:
            return "Station has no password and OCPP_REQUIRE_PASSWORD is on"
        return ""
    if credentials is None:
        return "No Basic credentials"
    username, password = credentials
    if username != identity:
        return "Basic username differs from the station identity"
    if not check_station_password(password, station.password_hash):
        return "Wrong password"
    return ""


def _record_refusal(identity: str, address: str, kind: str, message: str) -> None:
    logger.warning("%s: handshake from %s refused: %s", identity, address, message)
    StationEvent.objects.create(
        station_id=identity,
        kind=StationEvent.Kind.SECURITY,
        type=kind,
        message=message,
        data={"address": address},
    )


def station_release(identity: str, session: int) -> bool:
    """Mark the station offline, unless a newer connection has already taken over."""
    if Station.objects.filter(pk=identity, session=session).update(
        connected=False, channel_name="", disconnected_at=utcnow()
    ):
        publish("station", id=identity, connected=False)
        return True
    return False


def registration_is_accepted(identity: str) -> bool:
    return Station.objects.filter(
        pk=identity, registration_status=RegistrationStatus.ACCEPTED
    ).exists()
