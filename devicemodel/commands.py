"""What the commands that address components and variables share (the device model's, the
monitoring's): the operator's list notation, ComponentVariableType, and a request split into
several messages answered as one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from devicemodel.references import Address, ComponentRef, VariableRef
from stations.remote.answers import Answer
from stations.remote.delivery import send_command
from stations.remote.forms import InputError
from stations.remote.results import CommandResult, Outcome

LIST = re.compile(r"[\s,]+")  # what separates the items an operator types


def names(text: str) -> list[str]:
    return [n for n in LIST.split(text or "") if n]


def criteria(text: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """The criteria an operator typed, each one of `allowed`: InputError naming them otherwise."""
    chosen = tuple(names(text))
    wrong = [c for c in chosen if c not in allowed]
    if wrong:
        raise InputError(f"Criteria are {', '.join(allowed)}: not {', '.join(wrong)}")
    return chosen


def components_or_variables(text: str) -> tuple[Address, ...]:
    """`AuthCtrlr, OCPPCommCtrlr.HeartbeatInterval`: a component alone has no variable name."""
    return tuple(
        Address.parse(n) if "." in n else Address(ComponentRef(n), VariableRef(""))
        for n in names(text)
    )


def component_variables(addresses: Sequence[Address]) -> list[dict[str, Any]]:
    """ComponentVariableType of each: the component, and the variable where one is named."""
    out: list[dict[str, Any]] = []
    for address in addresses:
        item: dict[str, Any] = {"component": address.component.wire()}
        if address.variable.name:
            item["variable"] = address.variable.wire()
        out.append(item)
    return out


def addresses_of(items: Sequence[dict[str, Any]]) -> tuple[Address, ...]:
    """The inverse of `component_variables`, from a payload."""
    return tuple(
        Address(
            ComponentRef.from_wire(item["component"]),
            VariableRef.from_wire(item["variable"]) if item.get("variable") else VariableRef(""),
        )
        for item in items
    )


async def send_all(
    station_id: str,
    action: str,
    payloads: Sequence[dict[str, Any]],
    result_key: str,
    user: Any,
    source: str,
) -> tuple[str, CommandResult]:
    """Send each payload in turn; one answer with every message's results under `result_key`
    (the first failure stops the rest: what was answered before it is recorded)."""
    merged: list[Any] = []
    duration = 0.0
    label = action if len(payloads) == 1 else f"{action} ({len(payloads)} messages)"
    for payload in payloads:
        result = await send_command(station_id, action, payload, requested_by=user, source=source)
        duration += result.duration_ms
        if result.outcome != Outcome.ANSWERED or result.payload is None:
            return label, result
        merged.extend(result.payload.get(result_key, []))
    return label, CommandResult(Outcome.ANSWERED, {result_key: merged}, duration_ms=duration)


def report_requested(
    answer: Answer, kind: str, criteria_keys: Sequence[str] = (), *, nothing: str = ""
) -> None:
    """Record the answer to a request whose results come as parts (GetReport,
    GetMonitoringReport, GetDisplayMessages, ...): its report, of `kind`, with the request's
    criteria. `nothing`: the status by which the station says nothing will follow, when it is not
    EmptyResultSet (GetDisplayMessages says Unknown)."""
    from devicemodel import reports

    status = str(answer.response.get("status", ""))
    if nothing and status == nothing:
        status = "EmptyResultSet"
    reports.report_answered(
        answer.station_id,
        int(answer.payload["requestId"]),
        kind,
        status,
        criteria={k: answer.payload[k] for k in criteria_keys if k in answer.payload},
        user=answer.user,
    )
