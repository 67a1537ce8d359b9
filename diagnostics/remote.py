"""GetLog (OCPP 2.0.1 N01 and the 1.6 security whitepaper) and 1.6 GetDiagnostics, declared in the
catalog of `stations.remote`, and what their answers mean.

Each request is recorded before it is sent (diagnostics.services.open_request), with the upload
URL of its own the station is given; the answer and every status notification land on that row.
A payload from REST or the CLI goes through the same service: its location, if it is the CSMS's
own upload address (the default payload shows it), gets a token of its own; any other location is
the integrator's, kept as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from devicemodel.readings import status_info
from diagnostics import services
from diagnostics.models import LogRequest
from diagnostics.services import LogOrder
from stations.clock import parse_ocpp_time, utcnow
from stations.db import in_db_thread
from stations.remote.answers import Answer, records
from stations.remote.catalog import V16, V201, CommandSpec, Target, register, request_id
from stations.remote.delivery import send_command
from stations.remote.forms import Choice, Form, FormField, FormInput, InputError, Number
from stations.remote.results import CommandResult

KIND = Choice(
    "kind",
    "Log",
    (
        (LogRequest.Kind.DIAGNOSTICS_LOG, "Diagnostics log"),
        (LogRequest.Kind.SECURITY_LOG, "Security log"),
    ),
    default=LogRequest.Kind.DIAGNOSTICS_LOG,
)
HOURS = Number("hours", "Of the last hours (empty: all)", minimum=1, maximum=24 * 366)
RETRIES = Number("retries", "Retries", minimum=0, maximum=10)


def _since(hours: int | None) -> Any:
    return utcnow() - timedelta(hours=hours) if hours else None


@dataclass(frozen=True)
class LogInput(FormInput):
    order: LogOrder = field(default_factory=LogOrder)
    request_id: int | None = None  # a REST payload's own; None: a new one

    fields: ClassVar[tuple[FormField, ...]] = (KIND, HOURS, RETRIES)

    @classmethod
    def from_form(cls, form: Form) -> LogInput:
        order = LogOrder(KIND.read(form), _since(HOURS.read(form)), retries=RETRIES.read(form))
        return cls(order)


@dataclass(frozen=True)
class DiagnosticsInput(LogInput):
    order: LogOrder = field(default_factory=lambda: LogOrder(LogRequest.Kind.DIAGNOSTICS))

    fields = (HOURS, RETRIES)

    @classmethod
    def from_form(cls, form: Form) -> DiagnosticsInput:
        kind = LogRequest.Kind.DIAGNOSTICS
        return cls(LogOrder(kind, _since(HOURS.read(form)), retries=RETRIES.read(form)))


def _own(location: str) -> str:
    """'' when `location` is the CSMS's own upload address (a default payload's), else itself."""
    return "" if location.startswith(services.upload_base()) else location


def _retries(payload: dict[str, Any]) -> dict[str, Any]:
    return {"retries": payload.get("retries"), "retry_interval": payload.get("retryInterval")}


def _parse_log(payload: dict[str, Any], target: Target) -> LogInput:
    log = payload["log"]
    order = LogOrder(
        payload["logType"],
        parse_ocpp_time(log.get("oldestTimestamp")),
        parse_ocpp_time(log.get("latestTimestamp")),
        remote_location=_own(log["remoteLocation"]),
        **_retries(payload),
    )
    return LogInput(order, int(payload["requestId"]))


def _parse_diagnostics(payload: dict[str, Any], target: Target) -> DiagnosticsInput:
    order = LogOrder(
        LogRequest.Kind.DIAGNOSTICS,
        parse_ocpp_time(payload.get("startTime")),
        parse_ocpp_time(payload.get("stopTime")),
        remote_location=_own(payload["location"]),
        **_retries(payload),
    )
    return DiagnosticsInput(order)


def _build(value: LogInput, target: Target) -> dict[str, Any]:
    """The payload as the operator would see it: the CSMS's upload address, without its token
    (each request gets its own when it is sent)."""
    location = value.order.remote_location or services.upload_base()
    return value.order.wire(value.request_id or 0, location)[1]


def _open(station_id: str, value: LogInput, user: Any) -> tuple[int, str]:
    number = value.request_id if value.request_id is not None else request_id()
    if LogRequest.objects.filter(station_id=station_id, request_id=number).exists():
        raise InputError(f"requestId {number} was used already for {station_id}")
    return number, services.open_request(station_id, value.order, number, user)


async def _get_log(
    value: LogInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    number, location = await in_db_thread(_open)(station_id, value, user)
    action, payload = value.order.wire(number, location)
    result = await send_command(station_id, action, payload, requested_by=user, source=source)
    return f"{action} #{number}", result


register(
    CommandSpec(
        "get-log",
        "Get log",
        {V16: "GetLog", V201: "GetLog"},  # 1.6: the security whitepaper's
        LogInput,
        _build,
        perform=_get_log,
        parse=_parse_log,
        on_page=False,  # on the station's security page
    )
)
register(
    CommandSpec(
        "get-diagnostics",
        "Get diagnostics",
        {V16: "GetDiagnostics"},
        DiagnosticsInput,
        _build,
        perform=_get_log,
        parse=_parse_diagnostics,
        on_page=False,
    )
)


@records("GetLog")
def _log_answered(answer: Answer) -> None:
    response = answer.response
    services.answered(
        answer.station_id,
        int(answer.payload["requestId"]),
        str(response.get("status", "")),
        str(response.get("filename", "")),
        status_info(response.get("statusInfo")),
    )


@records("GetDiagnostics")
def _diagnostics_answered(answer: Answer) -> None:
    # GetDiagnostics has no requestId: the row is the newest of its location's token.
    request = services.request_at(answer.station_id, answer.payload["location"])
    if request is None:
        return
    name = str(answer.response.get("fileName", ""))
    status = ("Accepted" if name else "NoFile") if answer.answered else ""
    services.answered(answer.station_id, request.request_id, status, name)
