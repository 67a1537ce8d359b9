"""Running a declared command for an operator (a dashboard button, an admin action): the typed
input becomes the station's payload, or the command's own service performs it."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync

from stations.remote.catalog import CommandSpec, Target
from stations.remote.delivery import Route, send_command, send_command_from_thread
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
