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
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from opentelemetry.trace import Span, SpanKind

from csms_site import metrics
from ocppj import OcppError, schemas, telemetry
from stations.db import in_db_thread
from stations.models import Command, Station

# What the CSMS may send, per version (the station-initiated actions are not commands).
CSMS_ACTIONS: dict[str, tuple[str, ...]] = {
    "1.6": (
        "CancelReservation",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetLocalListVersion",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    ),
    "2.0.1": (
        "CancelReservation",
        "ChangeAvailability",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "GetBaseReport",
        "GetCompositeSchedule",
        "GetLocalListVersion",
        "GetLog",
        "GetReport",
        "GetTransactionStatus",
        "GetVariables",
        "ReserveNow",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SetVariables",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    ),
}

HOP_MARGIN_SECONDS = 5.0


class Outcome:
    ANSWERED = "answered"
    CALL_ERROR = "call_error"
    INVALID_RESPONSE = "invalid_response"
    TIMEOUT = "timeout"
    NOT_CONNECTED = "not_connected"


# Statuses of a CALLRESULT that mean the station does (or will do) what it was asked. Any other
# (Rejected, Occupied, UnlockFailed, NotSupported, UnknownVariable…) declines it.
ACCEPTED_STATUSES = frozenset(
    {"Accepted", "Scheduled", "Unlocked", "RebootRequired", "AcceptedCanceled"}
)


def declined_status(payload: Any) -> str | None:
    """The status by which a station's answer declines what was asked, or None when it accepts.

    The top-level `status` where there is one, else any per-item `attributeStatus` (GetVariables,
    SetVariables); an answer with neither (GetConfiguration, GetLocalListVersion) accepts."""
    if not isinstance(payload, dict):
        return None
    status = payload.get("status")
    if isinstance(status, str):
        return None if status in ACCEPTED_STATUSES else status
    for value in payload.values():
        if isinstance(value, list):
            for item in value:
                item_status = item.get("attributeStatus") if isinstance(item, dict) else None
                if isinstance(item_status, str) and item_status not in ACCEPTED_STATUSES:
                    return item_status
    return None


@dataclass(frozen=True)
class CommandResult:
    outcome: str
    payload: dict[str, Any] | None = None
    error_code: str = ""
    description: str = ""
    details: Any = field(default_factory=dict)
    duration_ms: float = 0.0


class CommandRefused(Exception):
    """The command was not sent: the action does not exist for the station's version, or the
    payload breaks its schema. Nothing reached the station."""

    def __init__(self, message: str, *, valid_actions: tuple[str, ...] = (), code: str = ""):
        super().__init__(message)
        self.message = message
        self.valid_actions = valid_actions
        self.code = code


def _live_socket(station_id: str) -> tuple[str, str] | None:
    row = (
        Station.objects.filter(pk=station_id, connected=True)
        .exclude(channel_name="")
        .values_list("channel_name", "protocol")
        .first()
    )
    return row


def check_command(protocol: str, action: str, payload: dict[str, Any]) -> None:
    """Raise CommandRefused unless `action` is a CSMS command of `protocol` and `payload` is valid."""
    valid = CSMS_ACTIONS.get(protocol, ())
    if action not in valid:
        raise CommandRefused(
            f"{action} is not a command of OCPP {protocol}", valid_actions=valid, code="unknown"
        )
    try:
        schemas.validate(protocol, action, schemas.REQUEST, payload)
    except OcppError as error:
        raise CommandRefused(
            f"Invalid {action} payload: {error.description}", code="invalid"
        ) from None


async def send_command(
    station_id: str,
    action: str,
    payload: dict[str, Any],
    *,
    timeout: float | None = None,
    requested_by: Any = None,
    source: str = "api",
    margin: float | None = None,
) -> CommandResult:
    """Send `action` to the station wherever its socket lives, record it, return what happened.

    The station has `timeout` seconds (default OCPP_CALL_TIMEOUT) to answer; the wait for the
    reply is `margin` seconds longer (default HOP_MARGIN_SECONDS) for the hop to its worker.
    Raises CommandRefused (nothing sent, nothing recorded) for an action the station's version
    lacks or an invalid payload.
    """
    started = time.monotonic()
    with _command_span(station_id, action, source) as span:
        live = await in_db_thread(_live_socket)(station_id)
        result = await _deliver(station_id, live, action, payload, timeout, started, margin)
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
) -> CommandResult:
    """`send_command` for synchronous callers (views), which already run in a thread of their own.

    Their queries run right there; only the channel-layer exchange goes to the event loop. Going
    through `send_command` instead would hop request thread -> loop -> database thread and back,
    twice, for two queries.
    """
    started = time.monotonic()
    with _command_span(station_id, action, source) as span:
        live = _live_socket(station_id)
        result = async_to_sync(_deliver)(station_id, live, action, payload, timeout, started)
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


async def _deliver(
    station_id: str,
    live: tuple[str, str] | None,
    action: str,
    payload: dict[str, Any],
    timeout: float | None,
    started: float,
    margin: float | None = None,
) -> CommandResult:
    if live is None:
        return CommandResult(Outcome.NOT_CONNECTED, description=f"{station_id} is not connected")
    channel_name, protocol = live
    check_command(protocol, action, payload)

    wait = timeout or settings.OCPP_CALL_TIMEOUT
    layer = get_channel_layer()
    reply_to = await layer.new_channel()
    await layer.send(
        channel_name,
        {
            "type": "station.command",
            "action": action,
            "payload": payload,
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
