"""What a station reports about its configuration, typed: NotifyReport parts and answers.

The edge between the wire and the services (as `stations.ocpp.readings` is for transactions): a
NotifyReport's `reportData`, a GetVariables or SetVariables result, a 1.6 configuration key become
these values, OCPP defaults filled in (an attribute without `type` is Actual, without `mutability`
ReadWrite), in either key case (the `ocpp` library hands handlers snake_case; a command's answer
comes back camelCase).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devicemodel.models import AttributeType, Mutability
from devicemodel.references import Address, ComponentRef, VariableRef


def field(data: dict[str, Any], camel: str, default: Any = None) -> Any:
    """A field by its camelCase name, or its snake_case one (a command's answer comes back
    camelCase; the `ocpp` library hands a station's message to its handler in snake_case)."""
    if camel in data:
        return data[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return data.get(snake, default)


@dataclass(frozen=True)
class AttributeReading:
    type: str = AttributeType.ACTUAL
    value: str | None = None  # None: not reported (a WriteOnly variable)
    mutability: str = Mutability.READ_WRITE
    persistent: bool = False
    constant: bool = False

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> AttributeReading:
        value = data.get("value")
        return cls(
            str(data.get("type") or AttributeType.ACTUAL),
            None if value is None else str(value),
            str(data.get("mutability") or Mutability.READ_WRITE),
            bool(data.get("persistent", False)),
            bool(data.get("constant", False)),
        )


@dataclass(frozen=True)
class Characteristics:
    data_type: str
    supports_monitoring: bool
    unit: str = ""
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str = ""

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Characteristics:
        minimum, maximum = field(data, "minLimit"), field(data, "maxLimit")
        return cls(
            str(field(data, "dataType", "")),
            bool(field(data, "supportsMonitoring", False)),
            str(data.get("unit") or ""),
            None if minimum is None else float(minimum),
            None if maximum is None else float(maximum),
            str(field(data, "valuesList", "") or ""),
        )


@dataclass(frozen=True)
class ReportEntry:
    """One variable of a report (ReportDataType)."""

    address: Address
    attributes: tuple[AttributeReading, ...]
    characteristics: Characteristics | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ReportEntry:
        characteristics = field(data, "variableCharacteristics")
        return cls(
            Address(
                ComponentRef.from_wire(data["component"]), VariableRef.from_wire(data["variable"])
            ),
            tuple(AttributeReading.from_wire(a) for a in field(data, "variableAttribute", [])),
            Characteristics.from_wire(characteristics) if characteristics else None,
        )


@dataclass(frozen=True)
class ReportPart:
    """One NotifyReport message."""

    request_id: int
    seq_no: int
    tbc: bool
    generated_at: datetime | None
    entries: tuple[ReportEntry, ...]


@dataclass(frozen=True)
class VariableResult:
    """One GetVariableResult or SetVariableResult (the value only for GetVariables)."""

    address: Address
    attribute_type: str
    status: str
    value: str | None = None
    status_info: str = ""

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> VariableResult:
        value = field(data, "attributeValue")
        return cls(
            Address(
                ComponentRef.from_wire(data["component"]), VariableRef.from_wire(data["variable"])
            ),
            str(field(data, "attributeType") or AttributeType.ACTUAL),
            str(field(data, "attributeStatus", "")),
            None if value is None else str(value),
            status_info(field(data, "attributeStatusInfo")),
        )


def status_info(data: dict[str, Any] | None) -> str:
    """StatusInfoType as one line: `reasonCode: additionalInfo`."""
    if not data:
        return ""
    reason = str(field(data, "reasonCode", ""))
    extra = field(data, "additionalInfo")
    return f"{reason}: {extra}" if extra else reason


@dataclass(frozen=True)
class ConfigurationKey:
    """A 1.6 GetConfiguration KeyValue."""

    key: str
    readonly: bool
    value: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ConfigurationKey:
        value = data.get("value")
        return cls(str(data["key"]), bool(data.get("readonly", False)), value)

    def entry(self) -> ReportEntry:
        """The key as a variable of OCPP16_COMPONENT."""
        mutability = Mutability.READ_ONLY if self.readonly else Mutability.READ_WRITE
        return ReportEntry(
            Address.key_16(self.key),
            (AttributeReading(AttributeType.ACTUAL, self.value, mutability),),
        )
