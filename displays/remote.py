"""The display-message commands (OCPP 2.0.1 O01-O06), declared in the catalog of
`stations.remote`, and what their answers mean.

The CSMS chooses each message's id (one above every id it knows on the station); a message given
with the id of one the station shows replaces it (O06). Before a SetDisplayMessage goes, its format
and priority are checked against what the station reported (DisplayMessageCtrlr.SupportedFormats,
SupportedPriorities) and a new message against its free slots (DisplayMessages' maxLimit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from devicemodel import commands
from devicemodel.models import Report
from displays import services
from displays.models import MessageFormat, MessageState, Priority
from displays.services import Message
from stations.clock import utcnow
from stations.db import in_db_thread
from stations.remote.answers import Answer, records
from stations.remote.catalog import (
    V201,
    CommandSpec,
    NoDefaultPayload,
    Target,
    register,
    request_id,
)
from stations.remote.delivery import send_command
from stations.remote.forms import Choice, Form, FormInput, Number, Text
from stations.remote.results import CommandResult

PRIORITY = Choice(
    "priority", "Priority", tuple((p, p) for p in Priority.values), default="NormalCycle"
)
FORMAT = Choice("format", "Format", tuple((f, f) for f in MessageFormat.values), default="UTF8")
STATE = Choice(
    "state",
    "When",
    (("any", "In any state"), *((s, s) for s in MessageState.values if s)),
    default="any",
)
MAX_MINUTES = 60 * 24 * 365
MINUTES = Number("minutes", "For minutes (empty: until cleared)", minimum=1, maximum=MAX_MINUTES)


@dataclass(frozen=True)
class DisplayInput(FormInput):
    message: Message

    fields = (
        Text("content", "Message", placeholder="Welcome"),
        PRIORITY,
        FORMAT,
        STATE,
        Text("language", "Language", placeholder="en", required=False),
        MINUTES,
        Text("transaction_id", "Transaction", placeholder="(none)", required=False),
    )

    @classmethod
    def from_form(cls, form: Form) -> DisplayInput:
        minutes = MINUTES.read(form)
        state = STATE.read(form)
        return cls(
            Message(
                0,  # the CSMS gives it an id when it is sent
                Text("content", "").read(form)[:512],
                PRIORITY.read(form),
                FORMAT.read(form),
                str(form.get("language") or "").strip()[:8],
                "" if state == "any" else state,
                None,
                utcnow() + timedelta(minutes=minutes) if minutes else None,
                str(form.get("transaction_id") or "").strip()[:36],
            )
        )


async def _set_display(
    value: DisplayInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    message = value.message
    if message.id == 0:
        message = replace(message, id=await in_db_thread(services.next_id)(station_id))
    await in_db_thread(services.check)(station_id, message)
    result = await send_command(
        station_id,
        "SetDisplayMessage",
        {"message": message.wire()},
        requested_by=user,
        source=source,
    )
    return f"SetDisplayMessage #{message.id}", result


def _no_message(target: Target) -> DisplayInput:
    raise NoDefaultPayload("SetDisplayMessage needs the message")


register(
    CommandSpec(
        "set-display-message",
        "Show a message",
        {V201: "SetDisplayMessage"},
        DisplayInput,
        lambda value, target: {"message": value.message.wire()},
        default=_no_message,
        perform=_set_display,
        parse=lambda payload, target: DisplayInput(Message.from_wire(payload["message"])),
        on_page=False,  # on the configuration page
    )
)


@records("SetDisplayMessage")
def _display_answered(answer: Answer) -> None:
    status = str(answer.response.get("status", "")) if answer.answered else ""
    services.message_answered(
        answer.station_id,
        Message.from_wire(answer.payload["message"]),
        status,
        services.status_info_of(answer.response),
        user=answer.user,
    )


@dataclass(frozen=True)
class GetDisplaysInput(FormInput):
    """Every message the station shows (or those of a priority or state)."""

    priority: str = ""
    state: str = ""

    fields = (
        Choice("priority", "Priority", (("", "Any"), *((p, p) for p in Priority.values))),
        Choice("state", "State", (("", "Any"), *((s, s) for s in MessageState.values if s))),
    )

    @classmethod
    def from_form(cls, form: Form) -> GetDisplaysInput:
        return cls(str(form.get("priority") or "").strip(), str(form.get("state") or "").strip())


def _get_displays(value: GetDisplaysInput, target: Target) -> dict[str, Any]:
    payload: dict[str, Any] = {"requestId": request_id()}
    if value.priority:
        payload["priority"] = value.priority
    if value.state:
        payload["state"] = value.state
    return payload


register(
    CommandSpec(
        "get-display-messages",
        "Get display messages",
        {V201: "GetDisplayMessages"},
        GetDisplaysInput,
        _get_displays,
        on_page=False,
    )
)


@records("GetDisplayMessages")
def _displays_answered(answer: Answer) -> None:
    commands.report_requested(
        answer, Report.Kind.DISPLAY, ("id", "priority", "state"), nothing="Unknown"
    )


@dataclass(frozen=True)
class ClearDisplayInput(FormInput):
    message_id: int

    fields = (Number("message_id", "Message", required=True, minimum=0),)


def _no_id(target: Target) -> ClearDisplayInput:
    raise NoDefaultPayload("ClearDisplayMessage needs the message's id")


register(
    CommandSpec(
        "clear-display-message",
        "Clear a message",
        {V201: "ClearDisplayMessage"},
        ClearDisplayInput,
        lambda value, target: {"id": value.message_id},
        default=_no_id,
        on_page=False,  # each message's row has its button
    )
)


@records("ClearDisplayMessage")
def _clear_answered(answer: Answer) -> None:
    if answer.answered:
        services.cleared(
            answer.station_id, int(answer.payload["id"]), str(answer.response.get("status"))
        )
