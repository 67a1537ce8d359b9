"""Rotating a station's Basic-auth key (OCPP 2.0.1 A01, the 1.6 security whitepaper's
AuthorizationKey) without ever locking it out.

1. The new key is valid *before* it is sent (`next_password_hash` beside the current key), so a
   station that applies it and reconnects at once is admitted.
2. It is sent: 2.0.1 SetVariables `SecurityCtrlr.BasicAuthPassword`, 1.6 ChangeConfiguration
   `AuthorizationKey` (hex-encoded, as the whitepaper says).
3. The station refuses it (Rejected, NotSupported, …): the new key is dropped, the old one stays.
   It does not answer: both stay valid (it may have applied it), the rotation shows as pending.
4. The station connects with the new key: it becomes the only key, the old one is revoked
   (`stations.services.connections`, "KeyRotated").

Only the key's hash is stored; the key itself is returned once, to the operator who asked. A raw
SetVariables / ChangeConfiguration of the key is refused (`devicemodel.changes.check`): the CSMS
would not know the key the station then expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from stations.clock import utcnow
from stations.db import atomic, in_db_thread
from stations.models import Station, StationEvent
from stations.passwords import (
    generate_station_password,
    make_station_password,
    validate_station_password,
)
from stations.remote.delivery import route, send_command
from stations.remote.forms import InputError
from stations.remote.results import CommandRefused, CommandResult, Outcome

V16 = "1.6"
KEY_16_MAX_BYTES = 20  # the whitepaper's AuthorizationKey: 16 to 20 bytes


@dataclass(frozen=True)
class Rotation:
    key: str  # shown once
    result: CommandResult
    status: str  # the station's answer ("" without one)

    @property
    def pending(self) -> bool:
        """Both keys valid until the station connects with the new one (it took it, or it did
        not answer in time and may have)."""
        if self.result.outcome == Outcome.TIMEOUT:
            return True
        return self.result.outcome == Outcome.ANSWERED and self.status in (
            "Accepted",
            "RebootRequired",
        )


def _check(station_id: str, key: str) -> str:
    """The station's protocol, after the checks: InputError, CommandRefused."""
    where = route(station_id)
    if where is None:
        raise CommandRefused(f"No such station: {station_id}", code="unknown_station")
    try:
        validate_station_password(key)
    except ValidationError as error:
        raise InputError("; ".join(error.messages)) from None
    if where.protocol == V16 and len(key.encode()) > KEY_16_MAX_BYTES:
        raise InputError(f"A 1.6 AuthorizationKey has 16 to {KEY_16_MAX_BYTES} bytes")
    return where.protocol


def _begin(station_id: str, key: str) -> None:
    """The new key valid beside the old one (saved through the model: the login throttle's cache
    of this station's keys is dropped)."""
    with atomic():
        station = Station.objects.select_for_update().get(pk=station_id)
        station.next_password_hash = make_station_password(key)
        station.key_rotation_started_at = utcnow()
        station.save(update_fields=["next_password_hash", "key_rotation_started_at"])


def _settle(station_id: str, status: str, outcome: str) -> None:
    with atomic():
        # Locked as the admission locks it: a reconnection with the new key is either wholly
        # before this (nothing pending any more) or wholly after.
        pending = (
            Station.objects.select_for_update()
            .filter(pk=station_id)
            .values_list("next_password_hash", flat=True)
            .first()
        )
        if outcome == Outcome.ANSWERED and status not in ("Accepted", "RebootRequired"):
            Station.objects.filter(pk=station_id).update(
                next_password_hash="", key_rotation_started_at=None
            )
            kind, message = "KeyRotationRefused", f"The station refused its new key: {status}"
        elif outcome != Outcome.TIMEOUT and outcome != Outcome.ANSWERED:
            # Not connected, or answered with a CALLERROR: the station does not have the key.
            Station.objects.filter(pk=station_id).update(
                next_password_hash="", key_rotation_started_at=None
            )
            kind, message = "KeyRotationRefused", f"The new key was not taken ({outcome})"
        elif not pending:
            return  # already connected with the new key ("KeyRotated"): nothing is pending
        else:
            kind = "KeyRotationStarted"
            message = (
                "The station took its new key: the old one is valid until it connects with it"
                if status
                else "The station did not answer: both keys stay valid"
            )
        StationEvent.objects.create(
            station_id=station_id, kind=StationEvent.Kind.SECURITY, type=kind, message=message
        )


def _payload(protocol: str, key: str) -> tuple[str, dict[str, Any]]:
    if protocol == V16:
        return "ChangeConfiguration", {"key": "AuthorizationKey", "value": key.encode().hex()}
    return "SetVariables", {
        "setVariableData": [
            {
                "attributeValue": key,
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            }
        ]
    }


def _status(protocol: str, result: CommandResult) -> str:
    payload = result.payload or {}
    if result.outcome != Outcome.ANSWERED:
        return ""
    if protocol == V16:
        return str(payload.get("status", ""))
    results = payload.get("setVariableResult") or [{}]
    return str(results[0].get("attributeStatus", ""))


async def rotate(
    station_id: str, *, key: str | None = None, user: Any = None, source: str = "api"
) -> Rotation:
    """Give the station a new key (a generated one unless `key`); see the module's steps."""
    key = key or generate_station_password()
    protocol = await in_db_thread(_check)(station_id, key)
    await in_db_thread(_begin)(station_id, key)
    action, payload = _payload(protocol or "2.0.1", key)
    try:
        result = await send_command(station_id, action, payload, requested_by=user, source=source)
    except Exception:
        await in_db_thread(_settle)(station_id, "", Outcome.NOT_CONNECTED)
        raise
    status = _status(protocol, result)
    await in_db_thread(_settle)(station_id, status, result.outcome)
    return Rotation(key, result, status)
