"""Admitting a station's WebSocket: who it is, whether its password holds, and which socket is live."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F

from stations import db, security
from stations.clock import utcnow
from stations.events import publish
from stations.models import RegistrationStatus, Station, StationEvent
from stations.passwords import Malformed, check_station_password
from stations.sql import SelectOne, update_fields

_station_locked = SelectOne(Station, ["id"], for_update=True)

logger = logging.getLogger("csms.security")


Credentials = tuple[str, bytes] | Malformed | None


@dataclass(frozen=True)
class Admission:
    """The outcome of a handshake. `status` is the HTTP status to refuse with when not admitted.

    `keys` are the station's key hashes as this check read them (None: no such station), for the
    login throttle to check later attempts in memory (stations/throttle.py)."""

    admitted: bool
    status: int = 101
    reason: str = ""
    session: int = 0
    accepted: bool = False
    registration_status: str = ""
    keys: tuple[str, ...] | None = field(default=None, repr=False)


def station_admit(
    identity: str,
    credentials: Credentials,
    *,
    address: str,
    protocol: str,
    channel_name: str,
    record: bool = True,
    connection: security.ConnectionSecurity = security.PLAIN,
) -> Admission:
    """Authenticate a handshake and, if it holds, make this socket the station's live connection.

    The session counter only grows: the socket that claimed the highest number is the live one,
    which settles two sockets authenticating at once on different workers.

    A refusal is recorded (`failed_logins`, a StationEvent) unless `record` is off: the login
    throttle then counts it in memory and records refusals in aggregate (`record_throttled`).
    """
    with db.atomic():
        station = _station_locked.get(identity)
        if station is None:
            if not settings.OCPP_AUTO_REGISTER:
                if record:
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

        keys = station_keys(station)
        problem = security.profile_problem(
            station.security_profile, identity, credentials is not None, connection
        )
        if problem:
            if record:
                _record_refusal(identity, address, "SecurityProfileViolation", problem)
            return Admission(False, 401, "Refused by the station's security profile", keys=keys)
        if station.security_profile != 3:  # profile 3: the certificate proved it
            problem = credential_problem(keys, identity, credentials)
        if problem:
            if record:
                Station.objects.filter(pk=identity).update(
                    failed_logins=F("failed_logins") + 1,
                    last_failed_login_at=utcnow(),
                    last_failed_login_address=address,
                )
                _record_refusal(identity, address, "InvalidCredentials", problem)
            return Admission(False, 401, "Invalid credentials", keys=keys)

        rotated = _finish_rotation(station, credentials)
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
                *(
                    ["password_hash", "next_password_hash", "key_rotation_started_at"]
                    if rotated
                    else []
                ),
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
        keys=keys,
    )


def station_keys(station: Station) -> tuple[str, ...]:
    """The hashes of the keys a station may authenticate with; none: no password. During a key
    rotation (stations/keys.py) the new key is valid beside the current one."""
    return tuple(k for k in (station.password_hash, station.next_password_hash) if k)


def _finish_rotation(station: Station, credentials: Credentials) -> bool:
    """A station connecting with the key being rotated in has it: it becomes the only key, and
    the old one is revoked (A01). Whether that happened."""
    if not station.next_password_hash or not isinstance(credentials, tuple):
        return False
    if not check_station_password(credentials[1], station.next_password_hash):
        return False
    station.password_hash, station.next_password_hash = station.next_password_hash, ""
    station.key_rotation_started_at = None
    StationEvent.objects.create(
        station_id=station.pk,
        kind=StationEvent.Kind.SECURITY,
        type="KeyRotated",
        message="The station connected with its new key: the old key is revoked",
    )
    return True


def credential_problem(keys: tuple[str, ...], identity: str, credentials: Credentials) -> str:
    """Why these credentials do not open the station with these key hashes ("" if they do). No
    database work: the login throttle calls it in memory on cached keys too."""
    if isinstance(credentials, Malformed):
        return f"Malformed Authorization header ({credentials.reason})"
    if not keys:
        if settings.OCPP_REQUIRE_PASSWORD:
            return "Station has no password and OCPP_REQUIRE_PASSWORD is on"
        return ""
    if credentials is None:
        return "No Basic credentials"
    username, password = credentials
    if username != identity:
        return "Basic username differs from the station identity"
    # Every key is checked, so the time taken does not tell which one came close.
    if not sum(check_station_password(password, key) for key in keys):
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


def record_throttled(refused: list[dict], probes: list[dict]) -> int:
    """Record, in one transaction, the handshakes the login throttle refused in memory since the
    last call (stations/throttle.py): per station, `failed_logins` raised by their count and one
    `LoginsThrottled` event; per address that probed for unknown identities, one
    `UnknownStationsThrottled` event (no station of its own: `station_id` is empty). Returns how
    many handshakes that was."""
    events = []
    total = 0
    with transaction.atomic():
        for tally in refused:
            identity, count = tally["identity"], tally["count"]
            total += count
            Station.objects.filter(pk=identity).update(
                failed_logins=F("failed_logins") + count,
                last_failed_login_at=tally["last"],
                last_failed_login_address=tally["last_address"],
            )
            events.append(
                StationEvent(
                    station_id=identity,
                    kind=StationEvent.Kind.SECURITY,
                    type="LoginsThrottled",
                    message=(
                        f"{count} handshake(s) with credentials that do not open the station "
                        "refused in memory: over the failed-login limit"
                    ),
                    data=_tally_data(tally, "addresses"),
                )
            )
        for tally in probes:
            total += tally["count"]
            events.append(
                StationEvent(
                    station_id="",
                    kind=StationEvent.Kind.SECURITY,
                    type="UnknownStationsThrottled",
                    message=(
                        f"{tally['count']} handshake(s) from {tally['address']} for unknown "
                        "identities refused in memory: over the failed-login limit"
                    ),
                    data={"address": tally["address"], **_tally_data(tally, "identities")},
                )
            )
        StationEvent.objects.bulk_create(events)
    for tally in refused:
        logger.warning(
            "%s: %d handshake(s) refused while throttled (from %s)",
            tally["identity"],
            tally["count"],
            ", ".join(tally["addresses"]) or "?",
        )
    for tally in probes:
        logger.warning(
            "%s: %d handshake(s) for unknown identities refused while throttled",
            tally["address"] or "?",
            tally["count"],
        )
    return total


def _tally_data(tally: dict, sample: str) -> dict:
    return {
        "count": tally["count"],
        sample: tally[sample],
        "first": tally["first"].isoformat(),
        "last": tally["last"].isoformat(),
    }


def station_identities(since: datetime | None = None) -> list[str]:
    """Every station identity (created at or after `since`, if given): the login throttle's index of
    the identities that exist."""
    rows = Station.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    return list(rows.order_by().values_list("id", flat=True))


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
