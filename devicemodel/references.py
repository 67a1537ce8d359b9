"""Typed names of components and variables, and the one notation operators type for them.

`Component[instance]@evse:connector.Variable[instance]`, e.g. `OCPPCommCtrlr.HeartbeatInterval`,
`DeviceDataCtrlr.ItemsPerMessage[GetVariables]`, `EVSE@1.AvailabilityState`,
`Connector@1:2.ConnectorType`. A 1.6 key is written as it is (`HeartbeatInterval`): it is a
variable of `OCPP16_COMPONENT`.

The wire forms (`ComponentType`, `VariableType`, in camelCase as they go out, or in snake_case as
the `ocpp` library hands a station's message to a handler) are converted here and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from devicemodel.models import OCPP16_COMPONENT, AttributeType, component_label, variable_label
from stations.remote.forms import InputError

NAME_MAX = 50
# Component[instance]@evse:connector.Variable[instance]; names hold no "." "[" "@" themselves.
_NOTATION = re.compile(
    r"^(?P<component>[^.\[\]@\s]+)(?:\[(?P<component_instance>[^\]]+)\])?"
    r"(?:@(?P<evse>\d+)(?::(?P<connector>\d+))?)?"
    r"\.(?P<variable>[^.\[\]@\s]+)(?:\[(?P<variable_instance>[^\]]+)\])?$"
)


@dataclass(frozen=True, order=True)
class ComponentRef:
    name: str
    instance: str = ""
    evse_id: int = 0  # 0: not an EVSE's component
    connector_id: int = 0

    def __str__(self) -> str:
        return component_label(self.name, self.instance, self.evse_id, self.connector_id)

    def wire(self) -> dict[str, Any]:
        """ComponentType, camelCase, as the CSMS sends it."""
        out: dict[str, Any] = {"name": self.name}
        if self.instance:
            out["instance"] = self.instance
        if self.evse_id:
            out["evse"] = {"id": self.evse_id}
            if self.connector_id:
                out["evse"]["connectorId"] = self.connector_id
        return out

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ComponentRef:
        """From ComponentType in either case (a station's answer, or a handler's snake_case)."""
        evse = data.get("evse") or {}
        connector = evse.get("connectorId", evse.get("connector_id", 0))
        return cls(
            str(data["name"]),
            str(data.get("instance") or ""),
            int(evse.get("id") or 0),
            int(connector or 0),
        )


@dataclass(frozen=True, order=True)
class VariableRef:
    name: str
    instance: str = ""

    def __str__(self) -> str:
        return variable_label(self.name, self.instance)

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.instance:
            out["instance"] = self.instance
        return out

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> VariableRef:
        return cls(str(data["name"]), str(data.get("instance") or ""))


@dataclass(frozen=True, order=True)
class Address:
    """One variable of one component: what GetVariables asks for and SetVariables changes."""

    component: ComponentRef
    variable: VariableRef

    def __str__(self) -> str:
        if self.component.name == OCPP16_COMPONENT and not self.component.instance:
            return str(self.variable)
        return f"{self.component}.{self.variable}"

    @classmethod
    def parse(cls, text: str) -> Address:
        """From the operator's notation; InputError with the expected form when it is not one."""
        text = text.strip()
        match = _NOTATION.match(text)
        if match is None:
            raise InputError(
                f"{text!r} is not Component[instance]@evse:connector.Variable[instance] "
                "(e.g. OCPPCommCtrlr.HeartbeatInterval)"
            )
        parts = match.groupdict()
        for key in ("component", "variable"):
            if len(parts[key]) > NAME_MAX:
                raise InputError(f"{parts[key]!r} is longer than {NAME_MAX} characters")
        return cls(
            ComponentRef(
                parts["component"],
                parts["component_instance"] or "",
                int(parts["evse"] or 0),
                int(parts["connector"] or 0),
            ),
            VariableRef(parts["variable"], parts["variable_instance"] or ""),
        )

    @classmethod
    def key_16(cls, key: str) -> Address:
        """A 1.6 configuration key (CiString50)."""
        key = key.strip()
        if not key or len(key) > NAME_MAX:
            raise InputError(f"A 1.6 configuration key has 1 to {NAME_MAX} characters: {key!r}")
        return cls(ComponentRef(OCPP16_COMPONENT), VariableRef(key))


def attribute_type(text: str | None) -> str:
    """An attributeType, Actual when none is given (B06.FR.11, B05's default)."""
    if not text:
        return AttributeType.ACTUAL
    if text not in AttributeType.values:
        raise InputError(f"attributeType must be one of {', '.join(AttributeType.values)}")
    return text
