"""The local-list commands, declared in the catalog of `stations.remote`, and what their answers
mean for the stations' lists.

`send-local-list` is the CSMS's own update (`sync`): the plan (`locallists.sync.plan`: Full or the
difference, split to the station's limits) sent message by message, each with the next version,
until the station holds what the CSMS wants or declines. A payload posted as it is
(`POST /api/stations/<id>/commands/SendLocalList/`) is sent as it is; either way its answer updates
what the CSMS knows the station holds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from locallists import sync as lists
from locallists.models import StationList
from stations.db import in_db_thread
from stations.remote.answers import Answer, records
from stations.remote.catalog import (
    CommandSpec,
    NoDefaultPayload,
    NoInput,
    Target,
    both,
    register,
)
from stations.remote.delivery import send_command
from stations.remote.forms import Button, Choice, Form, FormInput, InputError
from stations.remote.results import CommandResult, Outcome

UPDATE = Choice(
    "update",
    "Update",
    (("changes", "Changes only"), ("full", "The full list")),
    default="changes",
)


@dataclass(frozen=True)
class SendListInput(FormInput):
    full: bool = False

    fields = (UPDATE,)

    @classmethod
    def from_form(cls, form: Form) -> SendListInput:
        return cls(full=UPDATE.read(form) == "full")


_syncing: dict[str, asyncio.Lock] = {}


async def sync(
    station_id: str, *, full: bool = False, user: Any = None, source: str = "sync"
) -> tuple[str, CommandResult]:
    """Bring the station's local list to what the CSMS wants. InputError when the list cannot be
    sent (longer than the station holds). One update of a station at a time in this process (an
    operator's and the sync job's would plan the same versions)."""
    async with _syncing.setdefault(station_id, asyncio.Lock()):
        return await _sync(station_id, full=full, user=user, source=source)


async def _sync(
    station_id: str, *, full: bool, user: Any, source: str
) -> tuple[str, CommandResult]:
    plan = await in_db_thread(lists.plan)(station_id, full=full)
    if plan.problem:
        await in_db_thread(lists.mark_state)(station_id, StationList.State.TOO_LARGE, plan.problem)
        raise InputError(f"The local list of {station_id} is not sent: {plan.problem}")
    if plan.nothing_to_do:
        await in_db_thread(lists.mark_state)(station_id, StationList.State.CURRENT, "")
        return "SendLocalList (the list is current: nothing to send)", CommandResult(
            Outcome.ANSWERED, {"status": "Accepted"}
        )
    result = CommandResult(Outcome.ANSWERED, {"status": "Accepted"})
    duration = 0.0
    for index, items in enumerate(plan.batches):
        version = await in_db_thread(lists.next_version)(station_id)
        kind = "Full" if plan.full and index == 0 else "Differential"
        payload = lists.payload(plan.protocol, version, kind, items)
        result = await send_command(
            station_id, "SendLocalList", payload, requested_by=user, source=source
        )
        duration += result.duration_ms
        status = (result.payload or {}).get("status")
        if result.outcome != Outcome.ANSWERED or status != "Accepted":
            break
    label = "SendLocalList"
    if len(plan.batches) > 1:
        label += f" ({len(plan.batches)} messages)"
    return label, CommandResult(
        result.outcome,
        result.payload,
        result.error_code,
        result.description,
        result.details,
        duration,
    )


async def _send(
    value: SendListInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    return await sync(station_id, full=value.full, user=user, source=source)


def _no_default(target: Target) -> SendListInput:
    raise NoDefaultPayload(
        "SendLocalList is built from the CSMS's ID tokens: the dashboard's button or "
        f"POST /api/stations/{target.station_id}/local-list/sync/ sends it"
    )


SEND_LOCAL_LIST = register(
    CommandSpec(
        "send-local-list",
        "Send local list",
        both("SendLocalList"),
        SendListInput,
        lambda value, target: {},  # never sent as is: `perform` plans it
        default=_no_default,
        perform=_send,
        buttons=(
            Button("Send local list changes", preset={"update": "changes"}, fields=False),
            Button("Send the full local list", preset={"update": "full"}, fields=False),
        ),
    )
)

LOCAL_LIST_VERSION = register(
    CommandSpec(
        "local-list-version",
        "Get local list version",
        both("GetLocalListVersion"),
        NoInput,
        lambda value, target: {},
    )
)


@records("SendLocalList")
def _update_answered(answer: Answer) -> None:
    if answer.answered:
        status = str(answer.response.get("status", ""))
    else:
        status = f"not delivered: {answer.result.outcome}"[:20]
    lists.update_answered(
        answer.station_id, answer.payload, status, user=answer.user, source=answer.source
    )


@records("GetLocalListVersion")
def _version_answered(answer: Answer) -> None:
    if answer.answered:
        response = answer.response
        version = response.get("listVersion", response.get("versionNumber"))
        if version is not None:
            lists.version_reported(answer.station_id, int(version))
