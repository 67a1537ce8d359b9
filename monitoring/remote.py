"""The monitoring and customer-information commands (OCPP 2.0.1 N02-N06, N09, N10), declared in
the catalog of `stations.remote`, and what their answers mean.

SetVariableMonitoring and ClearVariableMonitoring are split to the station's
MonitoringCtrlr.ItemsPerMessage / BytesPerMessage[SetVariableMonitoring|ClearVariableMonitoring]
(N04.FR.09, N06.FR.04), GetMonitoringReport to ItemsPerMessage[GetReport] (N02.FR.07); a monitor
is refused before sending when the station reported its variable does not support monitoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devicemodel import changes, commands, inventory
from devicemodel.models import Report
from devicemodel.references import Address
from monitoring import services
from monitoring.models import MonitorType
from monitoring.services import MonitorSetting
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
from stations.remote.forms import Choice, Form, FormInput, InputError, Number, Text
from stations.remote.results import CommandResult

CONTROLLER = services.CONTROLLER


# --- SetVariableMonitoring (N04) ----------------------------------------------------------------

TYPE = Choice(
    "type", "Monitor", tuple((t, t) for t in MonitorType.values), default="UpperThreshold"
)
SEVERITY = Number("severity", "Severity (0 danger … 9 debug)", default=4, minimum=0, maximum=9)
DURING = Choice(
    "transaction",
    "When",
    (("always", "Always"), ("transaction", "During transactions")),
    default="always",
)


@dataclass(frozen=True)
class SetMonitorInput(FormInput):
    settings: tuple[MonitorSetting, ...]

    fields = (
        Text("variable", "Variable", placeholder="OCPPCommCtrlr.HeartbeatInterval"),
        TYPE,
        Text("value", "Value", placeholder="100"),
        SEVERITY,
        DURING,
    )

    @classmethod
    def from_form(cls, form: Form) -> SetMonitorInput:
        address = Address.parse(Text("variable", "").read(form))
        try:
            value = float(Text("value", "").read(form))
        except ValueError:
            raise InputError("The monitor's value is a number") from None
        return cls(
            (
                MonitorSetting(
                    address,
                    TYPE.read(form),
                    value,
                    SEVERITY.read_int(form),
                    DURING.read(form) == "transaction",
                ),
            )
        )


def _check_monitorable(station_id: str, settings: tuple[MonitorSetting, ...]) -> None:
    problems = []
    for setting in settings:
        variable = inventory.find(station_id, setting.address)
        if variable is not None and variable.supports_monitoring is False:
            problems.append(f"{setting.address} does not support monitoring")
    if problems:
        raise InputError("; ".join(problems))


async def _set_monitoring(
    value: SetMonitorInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    await in_db_thread(_check_monitorable)(station_id, value.settings)
    items, size = await in_db_thread(changes.message_limits)(
        station_id, "SetVariableMonitoring", CONTROLLER
    )
    payloads = changes.split(
        "SetVariableMonitoring",
        "setMonitoringData",
        [s.wire() for s in value.settings],
        max_items=items,
        max_bytes=size,
    )
    return await commands.send_all(
        station_id, "SetVariableMonitoring", payloads, "setMonitoringResult", user, source
    )


def _parse_set(payload: dict[str, Any], target: Target) -> SetMonitorInput:
    return SetMonitorInput(tuple(MonitorSetting.from_wire(i) for i in payload["setMonitoringData"]))


def _no_monitor(target: Target) -> SetMonitorInput:
    raise NoDefaultPayload("SetVariableMonitoring needs a variable, a type, a value and a severity")


register(
    CommandSpec(
        "set-variable-monitoring",
        "Set variable monitor",
        {V201: "SetVariableMonitoring"},
        SetMonitorInput,
        lambda value, target: {"setMonitoringData": [s.wire() for s in value.settings]},
        default=_no_monitor,
        perform=_set_monitoring,
        parse=_parse_set,
    )
)


@records("SetVariableMonitoring")
def _monitors_set(answer: Answer) -> None:
    settings = _parse_set(answer.payload, Target(answer.station_id, V201)).settings
    results = answer.response.get("setMonitoringResult") if answer.answered else None
    services.monitors_set(answer.station_id, settings, results)


# --- ClearVariableMonitoring (N06) --------------------------------------------------------------


@dataclass(frozen=True)
class ClearMonitorInput(FormInput):
    ids: tuple[int, ...]

    fields = (Text("ids", "Monitor ids", placeholder="1, 2"),)

    @classmethod
    def from_form(cls, form: Form) -> ClearMonitorInput:
        try:
            ids = tuple(int(i) for i in commands.names(Text("ids", "").read(form)))
        except ValueError:
            raise InputError("Monitor ids are numbers") from None
        return cls(ids)


async def _clear_monitoring(
    value: ClearMonitorInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    items, size = await in_db_thread(changes.message_limits)(
        station_id, "ClearVariableMonitoring", CONTROLLER
    )
    payloads = changes.split(
        "ClearVariableMonitoring", "id", list(value.ids), max_items=items, max_bytes=size
    )
    return await commands.send_all(
        station_id, "ClearVariableMonitoring", payloads, "clearMonitoringResult", user, source
    )


def _no_ids(target: Target) -> ClearMonitorInput:
    raise NoDefaultPayload("ClearVariableMonitoring needs the monitors' ids")


register(
    CommandSpec(
        "clear-variable-monitoring",
        "Clear variable monitors",
        {V201: "ClearVariableMonitoring"},
        ClearMonitorInput,
        lambda value, target: {"id": list(value.ids)},
        default=_no_ids,
        perform=_clear_monitoring,
        parse=lambda payload, target: ClearMonitorInput(tuple(int(i) for i in payload["id"])),
    )
)


@records("ClearVariableMonitoring")
def _monitors_cleared(answer: Answer) -> None:
    if answer.answered:
        services.monitors_cleared(answer.station_id, answer.response["clearMonitoringResult"])


# --- SetMonitoringBase (N03), SetMonitoringLevel (N05) ------------------------------------------

BASES = ("All", "FactoryDefault", "HardWiredOnly")


@dataclass(frozen=True)
class MonitoringBaseInput(FormInput):
    base: str = "All"

    fields = (Choice("base", "Monitoring base", tuple((b, b) for b in BASES), default="All"),)


register(
    CommandSpec(
        "set-monitoring-base",
        "Set monitoring base",
        {V201: "SetMonitoringBase"},
        MonitoringBaseInput,
        lambda value, target: {"monitoringBase": value.base},
    )
)


@records("SetMonitoringBase")
def _base_set(answer: Answer) -> None:
    if answer.response.get("status") == "Accepted":
        services.base_set(answer.station_id, str(answer.payload["monitoringBase"]))


@dataclass(frozen=True)
class MonitoringLevelInput(FormInput):
    severity: int = 9

    fields = (Number("severity", "Report severity up to", default=9, minimum=0, maximum=9),)


register(
    CommandSpec(
        "set-monitoring-level",
        "Set monitoring level",
        {V201: "SetMonitoringLevel"},
        MonitoringLevelInput,
        lambda value, target: {"severity": value.severity},
    )
)


@records("SetMonitoringLevel")
def _level_set(answer: Answer) -> None:
    if answer.response.get("status") == "Accepted":
        services.level_set(answer.station_id, int(answer.payload["severity"]))


# --- GetMonitoringReport (N02) ------------------------------------------------------------------

MONITORING_CRITERIA = ("ThresholdMonitoring", "DeltaMonitoring", "PeriodicMonitoring")


@dataclass(frozen=True)
class MonitoringReportInput(FormInput):
    criteria: tuple[str, ...] = ()
    components: tuple[Address, ...] = ()

    fields = (
        Text("criteria", "Criteria", placeholder="ThresholdMonitoring", required=False),
        Text("variables", "Components or variables", placeholder="EVSE", required=False),
    )

    @classmethod
    def from_form(cls, form: Form) -> MonitoringReportInput:
        criteria = commands.criteria(str(form.get("criteria") or ""), MONITORING_CRITERIA)
        return cls(criteria, commands.components_or_variables(str(form.get("variables") or "")))

    def component_variables(self) -> list[dict[str, Any]]:
        return commands.component_variables(self.components)


def _monitoring_report(value: MonitoringReportInput, target: Target) -> dict[str, Any]:
    payload: dict[str, Any] = {"requestId": request_id()}
    if value.criteria:
        payload["monitoringCriteria"] = list(value.criteria)
    if value.components:
        payload["componentVariable"] = value.component_variables()
    return payload


register(
    CommandSpec(
        "monitoring-report",
        "Get monitoring report",
        {V201: "GetMonitoringReport"},
        MonitoringReportInput,
        _monitoring_report,
    )
)


@records("GetMonitoringReport")
def _monitoring_report_answered(answer: Answer) -> None:
    commands.report_requested(
        answer, Report.Kind.MONITORING, ("monitoringCriteria", "componentVariable")
    )


# --- CustomerInformation (N09, N10) ---------------------------------------------------------------

ACTIONS = (
    ("report", "Report the data"),
    ("clear", "Clear the data"),
    ("both", "Report, then clear"),
)
BY = (("identifier", "Customer identifier"), ("id_token", "ID token"))


@dataclass(frozen=True)
class CustomerInput(FormInput):
    """A driver's data on the station: reported, cleared or both; one customer reference only."""

    customer: str
    by: str = "id_token"
    action: str = "report"

    fields = (
        Text("customer", "Customer", placeholder="CARD-1"),
        Choice("by", "Identified by", BY, default="id_token"),
        Choice("action", "Action", ACTIONS, default="report"),
    )


def _customer(value: CustomerInput, target: Target) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "requestId": request_id(),
        "report": value.action in ("report", "both"),
        "clear": value.action in ("clear", "both"),
    }
    if value.by == "identifier":
        payload["customerIdentifier"] = value.customer[:64]
    else:
        payload["idToken"] = {"idToken": value.customer[:36], "type": "ISO14443"}
    return payload


def _no_customer(target: Target) -> CustomerInput:
    raise NoDefaultPayload("CustomerInformation needs the customer")


register(
    CommandSpec(
        "customer-information",
        "Customer information",
        {V201: "CustomerInformation"},
        CustomerInput,
        _customer,
        default=_no_customer,
        on_page=False,  # on the configuration page, for privacy requests
    )
)


@records("CustomerInformation")
def _customer_answered(answer: Answer) -> None:
    status = str(answer.response.get("status", "")) if answer.answered else "Failed"
    services.customer_answered(answer.station_id, answer.payload, status, user=answer.user)
