"""The configuration commands, declared in the catalog of `stations.remote`, and what their answers
mean for the device model (`stations.remote.answers`).

| command | 2.0.1 | 1.6 |
|---|---|---|
| get-variables | GetVariables, split to ItemsPerMessage/BytesPerMessage[GetVariables] | |
| set-variables | SetVariables, values checked, split to [SetVariables] | |
| get-configuration | | GetConfiguration, split to GetConfigurationMaxKeys |
| change-configuration | | ChangeConfiguration, value checked |
| base-report | GetBaseReport → NotifyReport parts | |
| get-report | GetReport (criteria, component/variables), split to [GetReport] | |
| set-network-profile | SetNetworkProfile | |

A form, a REST payload and a CLI payload all go through `perform` (a payload is first `parse`d into
the same typed input), so the station's limits and the checks apply whoever asks. The answers are
recorded by the recorders below whatever sent the command (even a payload posted as it is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from devicemodel import changes, commands, reports
from devicemodel.changes import Query, Setting
from devicemodel.models import AttributeType, Report
from devicemodel.readings import ConfigurationKey, VariableResult
from devicemodel.references import Address, ComponentRef, VariableRef, attribute_type
from stations.db import in_db_thread
from stations.remote.answers import Answer, records
from stations.remote.catalog import (
    V16,
    V201,
    CommandSpec,
    NoDefaultPayload,
    Target,
    register,
    request_id,
)
from stations.remote.delivery import send_command
from stations.remote.forms import Choice, Form, FormInput, InputError, Number, Text
from stations.remote.results import CommandResult, Outcome

HEARTBEAT = Address(ComponentRef("OCPPCommCtrlr"), VariableRef("HeartbeatInterval"))
HEARTBEAT_SECONDS = "300"
ATTRIBUTE = Choice(
    "attribute_type",
    "Attribute",
    tuple((t, t) for t in AttributeType.values),
    default=AttributeType.ACTUAL,
)


def _addresses(text: str) -> tuple[Address, ...]:
    found = commands.names(text)
    if not found:
        raise InputError("Name at least one variable (Component.Variable)")
    return tuple(Address.parse(n) for n in found)


def _address(item: dict[str, Any]) -> Address:
    return Address(
        ComponentRef.from_wire(item["component"]), VariableRef.from_wire(item["variable"])
    )


# --- GetVariables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GetVariablesInput(FormInput):
    queries: tuple[Query, ...] = (Query(HEARTBEAT),)

    fields = (
        Text("variables", "Variables", placeholder="OCPPCommCtrlr.HeartbeatInterval"),
        ATTRIBUTE,
    )

    @classmethod
    def from_form(cls, form: Form) -> GetVariablesInput:
        kind = ATTRIBUTE.read(form)
        return cls(tuple(Query(a, kind) for a in _addresses(Text("variables", "").read(form))))


def _parse_get(payload: dict[str, Any], target: Target) -> GetVariablesInput:
    return GetVariablesInput(
        tuple(
            Query(_address(item), attribute_type(item.get("attributeType")))
            for item in payload["getVariableData"]
        )
    )


async def _get_variables(
    value: GetVariablesInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    items, size = await in_db_thread(changes.message_limits)(station_id, "GetVariables")
    payloads = changes.split(
        "GetVariables",
        "getVariableData",
        [q.wire() for q in value.queries],
        max_items=items,
        max_bytes=size,
    )
    return await commands.send_all(
        station_id, "GetVariables", payloads, "getVariableResult", user, source
    )


GET_VARIABLES = register(
    CommandSpec(
        "get-variables",
        "Get variables",
        {V201: "GetVariables"},
        GetVariablesInput,
        lambda value, target: {"getVariableData": [q.wire() for q in value.queries]},
        perform=_get_variables,
        parse=_parse_get,
    )
)


@records("GetVariables")
def _got_variables(answer: Answer) -> None:
    if answer.answered:
        results = [VariableResult.from_wire(r) for r in answer.response["getVariableResult"]]
        changes.get_results(answer.station_id, results)


# --- SetVariables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetVariablesInput(FormInput):
    settings: tuple[Setting, ...] = (Setting(HEARTBEAT, HEARTBEAT_SECONDS),)

    fields = (
        Text("variable", "Variable", placeholder="OCPPCommCtrlr.HeartbeatInterval"),
        Text("value", "Value", placeholder="300", required=False),
        ATTRIBUTE,
    )

    @classmethod
    def from_form(cls, form: Form) -> SetVariablesInput:
        address = Address.parse(Text("variable", "").read(form))
        value = str(form.get("value") or "")
        return cls((Setting(address, value, ATTRIBUTE.read(form)),))


def _parse_set(payload: dict[str, Any], target: Target) -> SetVariablesInput:
    return SetVariablesInput(
        tuple(
            Setting(
                _address(item),
                str(item["attributeValue"]),
                attribute_type(item.get("attributeType")),
            )
            for item in payload["setVariableData"]
        )
    )


async def _set_variables(
    value: SetVariablesInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    await in_db_thread(changes.check)(station_id, value.settings)
    items, size = await in_db_thread(changes.message_limits)(station_id, "SetVariables")
    payloads = changes.split(
        "SetVariables",
        "setVariableData",
        [s.wire() for s in value.settings],
        max_items=items,
        max_bytes=size,
    )
    return await commands.send_all(
        station_id, "SetVariables", payloads, "setVariableResult", user, source
    )


SET_VARIABLES = register(
    CommandSpec(
        "set-variables",
        "Set variable",
        {V201: "SetVariables"},
        SetVariablesInput,
        lambda value, target: {"setVariableData": [s.wire() for s in value.settings]},
        perform=_set_variables,
        parse=_parse_set,
        on_page=False,  # the configuration page edits each variable in its row
    )
)


@records("SetVariables")
def _set_answered(answer: Answer) -> None:
    settings = _parse_set(answer.payload, Target(answer.station_id, V201)).settings
    results = None
    if answer.answered:
        results = [VariableResult.from_wire(r) for r in answer.response["setVariableResult"]]
    changes.set_results(
        answer.station_id, settings, results, user=answer.user, source=answer.source
    )


# --- 1.6 GetConfiguration / ChangeConfiguration ---------------------------------------------------


@dataclass(frozen=True)
class GetConfigurationInput(FormInput):
    keys: tuple[str, ...] = ()  # none: every key

    fields = (Text("keys", "Keys (none: all)", placeholder="HeartbeatInterval", required=False),)

    @classmethod
    def from_form(cls, form: Form) -> GetConfigurationInput:
        text = Text("keys", "", required=False).read(form)
        return cls(tuple(str(Address.key_16(k).variable) for k in commands.names(text)))


def _get_configuration_payload(value: GetConfigurationInput, target: Target) -> dict[str, Any]:
    return {"key": list(value.keys)} if value.keys else {}


async def _get_configuration(
    value: GetConfigurationInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    limit = None
    if value.keys:
        limit = await in_db_thread(_max_keys)(station_id)
    groups = (
        [list(value.keys)]
        if limit is None
        else [list(value.keys[i : i + limit]) for i in range(0, len(value.keys), limit)]
    )
    known: list[Any] = []
    unknown: list[Any] = []
    duration = 0.0
    for keys in groups:
        payload = {"key": keys} if keys else {}
        result = await send_command(
            station_id, "GetConfiguration", payload, requested_by=user, source=source
        )
        duration += result.duration_ms
        if result.outcome != Outcome.ANSWERED or result.payload is None:
            return "GetConfiguration", result
        known.extend(result.payload.get("configurationKey", []))
        unknown.extend(result.payload.get("unknownKey", []))
    answer: dict[str, Any] = {"configurationKey": known}
    if unknown:
        answer["unknownKey"] = unknown
    label = "GetConfiguration" if len(groups) == 1 else f"GetConfiguration ({len(groups)} messages)"
    return label, CommandResult(Outcome.ANSWERED, answer, duration_ms=duration)


def _max_keys(station_id: str) -> int | None:
    """1.6 GetConfigurationMaxKeys, as the station reported it."""
    from devicemodel import inventory

    return changes.positive_int(
        inventory.actual_value(station_id, Address.key_16("GetConfigurationMaxKeys"))
    )


GET_CONFIGURATION = register(
    CommandSpec(
        "get-configuration",
        "Get configuration",
        {V16: "GetConfiguration"},
        GetConfigurationInput,
        _get_configuration_payload,
        perform=_get_configuration,
        parse=lambda payload, target: GetConfigurationInput(tuple(payload.get("key") or ())),
    )
)


@records("GetConfiguration")
def _got_configuration(answer: Answer) -> None:
    if not answer.answered:
        return
    reports.configuration_received(
        answer.station_id,
        request_id(),
        [ConfigurationKey.from_wire(k) for k in answer.response.get("configurationKey", [])],
        [str(k) for k in answer.response.get("unknownKey", [])],
        asked=list(answer.payload.get("key") or []),
        user=answer.user,
    )


@dataclass(frozen=True)
class ChangeConfigurationInput(FormInput):
    key: str = str(HEARTBEAT.variable)
    value: str = HEARTBEAT_SECONDS

    fields = (
        Text("key", "Key", placeholder="HeartbeatInterval"),
        Text("value", "Value", placeholder="300", required=False),
    )

    @property
    def setting(self) -> Setting:
        return Setting(Address.key_16(self.key), self.value)


async def _change_configuration(
    value: ChangeConfigurationInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    await in_db_thread(changes.check)(station_id, [value.setting], value_max=changes.VALUE_MAX_16)
    payload = {"key": value.key, "value": value.value}
    result = await send_command(
        station_id, "ChangeConfiguration", payload, requested_by=user, source=source
    )
    return "ChangeConfiguration", result


CHANGE_CONFIGURATION = register(
    CommandSpec(
        "change-configuration",
        "Change configuration",
        {V16: "ChangeConfiguration"},
        ChangeConfigurationInput,
        lambda value, target: {"key": value.key, "value": value.value},
        perform=_change_configuration,
        parse=lambda payload, target: ChangeConfigurationInput(
            str(payload["key"]), str(payload["value"])
        ),
        on_page=False,  # the configuration page edits each key in its row
    )
)


@records("ChangeConfiguration")
def _configuration_changed(answer: Answer) -> None:
    setting = Setting(Address.key_16(str(answer.payload["key"])), str(answer.payload["value"]))
    results = None
    if answer.answered:
        status = str(answer.response.get("status", ""))
        results = [VariableResult(setting.address, AttributeType.ACTUAL, status)]
    changes.set_results(
        answer.station_id, [setting], results, user=answer.user, source=answer.source
    )


# --- GetBaseReport / GetReport --------------------------------------------------------------------

REPORT_BASES = (Report.Kind.FULL, Report.Kind.CONFIGURATION, Report.Kind.SUMMARY)
CRITERIA = ("Active", "Available", "Enabled", "Problem")


@dataclass(frozen=True)
class BaseReportInput(FormInput):
    report_base: str = Report.Kind.FULL

    fields = (Choice("report_base", "Report", tuple((str(r), str(r)) for r in REPORT_BASES)),)


BASE_REPORT = register(
    CommandSpec(
        "base-report",
        "Get base report",
        {V201: "GetBaseReport"},
        BaseReportInput,
        lambda value, target: {"requestId": request_id(), "reportBase": value.report_base},
    )
)


@records("GetBaseReport")
def _base_report_answered(answer: Answer) -> None:
    commands.report_requested(answer, str(answer.payload["reportBase"]))


@dataclass(frozen=True)
class GetReportInput(FormInput):
    criteria: tuple[str, ...] = ()
    addresses: tuple[Address, ...] = ()

    fields = (
        Text("criteria", "Criteria", placeholder="Problem", required=False),
        Text(
            "variables",
            "Components or variables",
            placeholder="AuthCtrlr, OCPPCommCtrlr.HeartbeatInterval",
            required=False,
        ),
    )

    @classmethod
    def from_form(cls, form: Form) -> GetReportInput:
        criteria = commands.criteria(str(form.get("criteria") or ""), CRITERIA)
        addresses = commands.components_or_variables(str(form.get("variables") or ""))
        if not criteria and not addresses:
            raise InputError("Give criteria, components or variables (or ask for a base report)")
        return cls(criteria, addresses)

    def component_variables(self) -> list[dict[str, Any]]:
        return commands.component_variables(self.addresses)


def _get_report_payload(value: GetReportInput, target: Target) -> dict[str, Any]:
    payload: dict[str, Any] = {"requestId": request_id()}
    if value.criteria:
        payload["componentCriteria"] = list(value.criteria)
    if value.addresses:
        payload["componentVariable"] = value.component_variables()
    return payload


def _parse_report(payload: dict[str, Any], target: Target) -> GetReportInput:
    return GetReportInput(
        tuple(payload.get("componentCriteria") or ()),
        commands.addresses_of(payload.get("componentVariable") or ()),
    )


async def _get_report(
    value: GetReportInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    """GetReport, as many requests (each with its own requestId) as the station's
    ItemsPerMessage/BytesPerMessage[GetReport] need for the components asked."""
    items, size = await in_db_thread(changes.message_limits)(station_id, "GetReport")
    base: dict[str, Any] = {}
    if value.criteria:
        base["componentCriteria"] = list(value.criteria)
    groups = (
        changes.split(
            "GetReport",
            "componentVariable",
            value.component_variables(),
            max_items=items,
            max_bytes=size - 40 if size else None,  # the requestId and criteria around them
        )
        if value.addresses
        else [{}]
    )
    answers: list[dict[str, Any]] = []
    duration = 0.0
    result = CommandResult(Outcome.ANSWERED, {})
    for group in groups:
        payload = {"requestId": request_id(), **base, **group}
        result = await send_command(
            station_id, "GetReport", payload, requested_by=user, source=source
        )
        duration += result.duration_ms
        if result.outcome != Outcome.ANSWERED or result.payload is None:
            return "GetReport", result
        answers.append({"requestId": payload["requestId"], **result.payload})
    if len(answers) == 1:
        return "GetReport", result
    accepted = [a for a in answers if a.get("status") == "Accepted"]
    merged = {"status": "Accepted" if accepted else answers[0].get("status"), "requests": answers}
    return f"GetReport ({len(answers)} requests)", CommandResult(
        Outcome.ANSWERED, merged, duration_ms=duration
    )


GET_REPORT = register(
    CommandSpec(
        "get-report",
        "Get report",
        {V201: "GetReport"},
        GetReportInput,
        _get_report_payload,
        perform=_get_report,
        parse=_parse_report,
    )
)


@records("GetReport")
def _report_answered(answer: Answer) -> None:
    commands.report_requested(
        answer, Report.Kind.CUSTOM, ("componentCriteria", "componentVariable")
    )


# --- SetNetworkProfile (B09) ----------------------------------------------------------------------

INTERFACES = tuple(
    (i, i)
    for i in (
        "Wired0",
        "Wired1",
        "Wired2",
        "Wired3",
        "Wireless0",
        "Wireless1",
        "Wireless2",
        "Wireless3",
    )
)


@dataclass(frozen=True)
class NetworkProfileInput(FormInput):
    """One connection profile in a slot of the station's NetworkConfigurationPriority."""

    slot: int
    url: str
    security_profile: int = 1
    interface: str = "Wired0"
    message_timeout: int = 30

    fields = (
        Number("slot", "Slot", minimum=0, required=True),
        Text("url", "CSMS URL", placeholder="wss://csms.example.com/ocpp/"),
        Number("security_profile", "Security profile", default=1, minimum=0, maximum=3),
        Choice("interface", "Interface", INTERFACES, default="Wired0"),
        Number("message_timeout", "Message timeout (s)", default=30, minimum=1),
    )

    @classmethod
    def from_form(cls, form: Form) -> NetworkProfileInput:
        value = super().from_form(form)
        if not re.match(r"^wss?://", value.url):
            raise InputError("The CSMS URL starts with ws:// or wss://")
        if value.security_profile >= 2 and not value.url.startswith("wss://"):
            raise InputError("Security profiles 2 and 3 need a wss:// URL (TLS)")
        return value


def _no_default_profile(target: Target) -> NetworkProfileInput:
    raise NoDefaultPayload("SetNetworkProfile needs a slot and the CSMS URL")


SET_NETWORK_PROFILE = register(
    CommandSpec(
        "set-network-profile",
        "Set network profile",
        {V201: "SetNetworkProfile"},
        NetworkProfileInput,
        lambda value, target: {
            "configurationSlot": value.slot,
            "connectionData": {
                "ocppVersion": "OCPP20",
                "ocppTransport": "JSON",
                "ocppCsmsUrl": value.url,
                "messageTimeout": value.message_timeout,
                "securityProfile": value.security_profile,
                "ocppInterface": value.interface,
            },
        },
        default=_no_default_profile,
        on_page=False,  # on the configuration page
    )
)
