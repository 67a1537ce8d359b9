"""Running a declared command for an operator (a dashboard button, an admin action): the typed
input becomes the station's payload, or the command's own service performs it; and a wire payload
from REST or a shell (`send_payload`), parsed into that input where the declaration says how."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync

from stations.remote.catalog import CommandSpec, Target, spec_for
from stations.remote.delivery import (
    Route,
    check_command,
    send_command,
    send_command_from_thread,
)
from stations.remote.results import CommandResult

# A station that never connected has no version yet: its payload is built for 2.0.1 (it is not
# connected, so nothing is sent; the record says what was asked).
UNKNOWN_VERSION_FALLBACK = "2.0.1"


def _target(where: Route) -> Target:
    return Target(where.station_id, where.protocol or UNKNOWN_VERSION_FALLBACK)


async def perform(
    spec: CommandSpec[Any], value: Any, where: Route, *, user: Any, source: str
) -> tuple[str, CommandResult]:
    """(what was sent, its result). Raises CommandRefused, InputError, or the service's own
    errors (a reservation with nothing available)."""
    if spec.perform is not None:
        return await spec.perform(value, where.station_id, user, source)
    action, payload = spec.payload(value, _target(where))
    result = await send_command(
        where.station_id, action, payload, requested_by=user, source=source, where=where
    )
    return action, result


def perform_from_thread(
    spec: CommandSpec[Any], value: Any, where: Route, *, user: Any, source: str
) -> tuple[str, CommandResult]:
    """`perform` for a synchronous view, which has read the station (`where`) already."""
    if spec.perform is not None:
        return async_to_sync(spec.perform)(value, where.station_id, user, source)
    action, payload = spec.payload(value, _target(where))
    result = send_command_from_thread(
        where.station_id, action, payload, requested_by=user, source=source, where=where
    )
    return action, result


def _declared(where: Route, action: str, payload: dict[str, Any]) -> tuple[CommandSpec[Any], Any]:
    """The declaration and typed input of a payload that goes through its command's service
    (`CommandSpec.parse`), after the payload's schema check: CommandRefused, InputError."""
    spec = spec_for(where.protocol, action) if where.protocol else None
    if spec is None or spec.perform is None or spec.parse is None:
        raise LookupError(action)
    check_command(where.protocol, action, payload)
    return spec, spec.parse(payload, _target(where))


async def send_payload(
    where: Route,
    action: str,
    payload: dict[str, Any],
    *,
    user: Any,
    source: str,
    timeout: float | None = None,
    margin: float | None = None,
) -> CommandResult:
    """A wire payload from REST or a shell: through its command's service when the declaration
    parses payloads (checked, split, recorded: the same path as a form), else sent as it is.
    `timeout` applies to a payload sent as it is; a service's messages take OCPP_CALL_TIMEOUT."""
    try:
        spec, value = _declared(where, action, payload)
    except LookupError:
        return await send_command(
            where.station_id,
            action,
            payload,
            timeout=timeout,
            margin=margin,
            requested_by=user,
            source=source,
            where=where,
        )
    assert spec.perform is not None
    _, result = await spec.perform(value, where.station_id, user, source)
    return result


def send_payload_from_thread(
    where: Route,
    action: str,
    payload: dict[str, Any],
    *,
    user: Any,
    source: str,
    timeout: float | None = None,
) -> CommandResult:
    """`send_payload` for a synchronous view."""
    try:
        spec, value = _declared(where, action, payload)
    except LookupError:
        return send_command_from_thread(
            where.station_id,
            action,
            payload,
            timeout=timeout,
            requested_by=user,
            source=source,
            where=where,
        )
    assert spec.perform is not None
    _, result = async_to_sync(spec.perform)(value, where.station_id, user, source)
    return result
