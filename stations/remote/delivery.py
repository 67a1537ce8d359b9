"""Sending an OCPP command to a station from any process: a REST view, the dashboard, a shell.

The caller may live in another worker process than the station's socket. It reads the live socket's
channel name from the Station row, sends it a `station.command` event over the channel layer with a
reply channel of its own, and waits there. The consumer that holds the socket runs the CALL in a task
(its receive loop keeps routing the station's frames, including the answer) and sends the outcome
back. The caller's wait is bounded: the station's timeout plus a margin for the hop.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from opentelemetry.trace import Span, SpanKind

from csms_site import metrics
from ocppj import OcppError, schemas, telemetry
from stations.db import in_db_thread
from stations.models import Command, Station
from stations.remote import answers
from stations.remote.answers import Answer
from stations.remote.catalog import CSMS_ACTIONS, spec_for
from stations.remote.results import CommandRefused, CommandResult, Outcome

HOP_MARGIN_SECONDS = 5.0


@dataclass(frozen=True)
class Route:
    """Where a station is, read once per command: its version ("" before it first connected) and
    the channel name of its live socket ("" when it is not connected)."""

    station_id: str
    protocol: str
    channel_name: str


def route(station_id: str) -> Route | None:
    """The station's route (one query), None for an unknown station."""
    row = (
        Station.objects.filter(pk=station_id)
        .values_list("protocol", "connected", "channel_name")
        .first()
    )
    if row is None:
        return None
    protocol, connected, channel_name = row
    return Route(station_id, protocol, channel_name if connected else "")


def check_action(protocol: str, action: str) -> None:
    """Raise CommandRefused unless `action` is a CSMS command of `protocol`."""
    if spec_for(protocol, action) is None:
        valid = CSMS_ACTIONS.get(protocol, ())
        raise CommandRefused(
            f"{action} is not a command of OCPP {protocol}", valid_actions=valid, code="unknown"
        )


def check_command(protocol: str, action: str, payload: dict[str, Any]) -> None:
    """Raise CommandRefused unless `action` is a CSMS command of `protocol` and `payload` is valid."""
    check_action(protocol, action)
    try:
        schemas.validate(protocol, action, schemas.REQUEST, payload)
    except OcppError as error:
        raise CommandRefused(
            f"Invalid {action} payload: {error.description}", code="invalid"
        ) from None


def resolve(station_id: str, action: str, payload: dict[str, Any]) -> Route:
    """The station's route, after the one check of the command: CommandRefused for an unknown
    station, an action its version lacks or a payload that breaks the schema. A station that
    never connected has no version yet: nothing is checked, and it is not connected."""
    where = route(station_id)
    if where is None:
        raise CommandRefused(f"No such station: {station_id}", code="unknown_station")
    return checked(where, action, payload)


def checked(where: Route, action: str, payload: dict[str, Any]) -> Route:
    """`where`, after the one check of the command (`resolve` for a caller with no route yet)."""
    if where.protocol:
        check_command(where.protocol, action, payload)
    return where


async def send_command(
    station_id: str,
    action: str,
    payload: dict[str, Any],
    *,
    timeout: float | None = None,
    requested_by: Any = None,
    source: str = "api",
    margin: float | None = None,
    where: Route | None = None,
) -> CommandResult:
    """Send `action` to the station wherever its socket lives, record it, return what happened.

    The station has `timeout` seconds (default OCPP_CALL_TIMEOUT) to answer; the wait for the
    reply is `margin` seconds longer (default HOP_MARGIN_SECONDS) for the hop to its worker.
    Raises CommandRefused (nothing sent, nothing recorded) for an unknown station, an action the
    station's version lacks or an invalid payload. A caller that has read the station's `route`
    already passes it (`where`).
    """
    started = time.monotonic()
    with _command_span(station_id, action, source) as span:
        if where is None:
            where = await in_db_thread(resolve)(station_id, action, payload)
        else:
            where = checked(where, action, payload)
        result = await _deliver(where, action, payload, timeout, started, margin)
        span.set_attribute("ocpp.outcome", result.outcome)
    await in_db_thread(_record)(station_id, action, payload, result, requested_by, source)
    return result


def send_command_from_thread(
    station_id: str,
    action: str,
    payload: dict[str, Any],
    *,
    timeout: float | None = None,
    requested_by: Any = None,
    source: str = "api",
    where: Route | None = None,
) -> CommandResult:
    """`send_command` for synchronous callers (views), which already run in a thread of their own.

    Their queries run right there; only the channel-layer exchange goes to the event loop. Going
    through `send_command` instead would hop request thread -> loop -> database thread and back,
    twice, for two queries. A caller that has read the station's `route` already passes it.
    """
    started = time.monotonic()
    with _command_span(station_id, action, source) as span:
        where = checked(where, action, payload) if where else resolve(station_id, action, payload)
        result = async_to_sync(_deliver)(where, action, payload, timeout, started)
        span.set_attribute("ocpp.outcome", result.outcome)
    _record(station_id, action, payload, result, requested_by, source)
    return result


def _command_span(station_id: str, action: str, source: str) -> AbstractContextManager[Span]:
    return telemetry.tracer.start_as_current_span(
        f"ocpp.command {action}",
        kind=SpanKind.PRODUCER,
        attributes={"ocpp.action": action, "ocpp.station_id": station_id, "ocpp.source": source},
    )


def _record(
    station_id: str,
    action: str,
    payload: dict[str, Any],
    result: CommandResult,
    requested_by: Any,
    source: str,
) -> None:
    metrics.command_finished(action, source, result)
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    Command.objects.create(
        station_id=station_id,
        action=action,
        payload=payload,
        requested_by=user,
        source=source,
        outcome=result.outcome,
        response=result.payload,
        error_code=result.error_code,
        description=result.description,
        duration_ms=result.duration_ms,
    )
    answers.record(Answer(station_id, action, payload, result, user, source))


async def _deliver(
    where: Route,
    action: str,
    payload: dict[str, Any],
    timeout: float | None,
    started: float,
    margin: float | None = None,
) -> CommandResult:
    """The channel-layer exchange with the station's consumer; the command is checked already
    (the consumer does not validate it again)."""
    if not where.channel_name:
        return CommandResult(
            Outcome.NOT_CONNECTED, description=f"{where.station_id} is not connected"
        )
    wait = timeout or settings.OCPP_CALL_TIMEOUT
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS is always configured (csms_site/settings.py)"
    reply_to = await layer.new_channel()
    await layer.send(
        where.channel_name,
        {
            "type": "station.command",
            "action": action,
            "payload": payload,
            "checked": True,
            "reply_to": reply_to,
            "timeout": wait,
            "trace": telemetry.inject({}),
        },
    )
    try:
        async with asyncio.timeout(wait + (HOP_MARGIN_SECONDS if margin is None else margin)):
            reply = await layer.receive(reply_to)
    except TimeoutError:
        # The socket's worker is gone, or the channel layer lost the message.
        reply = {"outcome": Outcome.TIMEOUT, "description": "No reply from the station's worker"}
    return CommandResult(
        outcome=reply["outcome"],
        payload=reply.get("payload"),
        error_code=reply.get("error_code", ""),
        description=reply.get("description", ""),
        details=reply.get("details") or {},
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )
