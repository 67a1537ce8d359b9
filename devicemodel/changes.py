"""Reading and changing variables: values checked before anything is sent, requests split to the
station's own limits, and every answer stored against its variable.

- **Checked first.** A new value is checked against what the station reported of the variable
  (mutability, data type, limits, allowed values): an operator learns that 500 is above the
  station's maximum of 300 before the station is asked, and the station's answer is then about
  what the station thinks, not about a typo. A variable the CSMS has no report of is sent as it is
  (the station answers UnknownVariable if it does not have it).
- **Split to the station's limits.** GetVariables and SetVariables carry at most
  DeviceDataCtrlr.ItemsPerMessage[GetVariables|SetVariables] items and at most
  DeviceDataCtrlr.BytesPerMessage[...] bytes a message, as the station reported them (B06.FR.05,
  B05's ItemsPerMessageSetVariables); a station that reported none gets one message.
- **Secrets are never stored.** A write-only variable (SecurityCtrlr.BasicAuthPassword, 1.6
  AuthorizationKey) is sent, and its change recorded, without its value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devicemodel import inventory
from devicemodel.models import (
    OCPP16_COMPONENT,
    AttributeType,
    DataType,
    Mutability,
    Variable,
    VariableChange,
)
from devicemodel.readings import VariableResult
from devicemodel.references import Address, ComponentRef, VariableRef
from stations import events
from stations.clock import utcnow
from stations.db import atomic
from stations.remote.forms import InputError

VALUE_MAX = 1000  # SetVariableDataType.attributeValue; 1.6 ChangeConfiguration.value is 500
VALUE_MAX_16 = 500
MASK = "********"
SECRETS = frozenset(
    {
        Address(ComponentRef("SecurityCtrlr"), VariableRef("BasicAuthPassword")),
        Address.key_16("AuthorizationKey"),
    }
)
DEVICE_DATA = "DeviceDataCtrlr"
# The frame around a payload: [2,"<36-character message id>","<Action>",<payload>].
FRAME_OVERHEAD = len('[2,"","",]') + 36


@dataclass(frozen=True)
class Query:
    """One GetVariableData."""

    address: Address
    attribute_type: str = AttributeType.ACTUAL

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "component": self.address.component.wire(),
            "variable": self.address.variable.wire(),
        }
        if self.attribute_type != AttributeType.ACTUAL:
            out["attributeType"] = self.attribute_type
        return out


@dataclass(frozen=True)
class Setting:
    """One SetVariableData (or a 1.6 ChangeConfiguration)."""

    address: Address
    value: str
    attribute_type: str = AttributeType.ACTUAL

    @property
    def secret(self) -> bool:
        return self.address in SECRETS

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributeValue": self.value,
            "component": self.address.component.wire(),
            "variable": self.address.variable.wire(),
        }
        if self.attribute_type != AttributeType.ACTUAL:
            out["attributeType"] = self.attribute_type
        return out


# --- checks ---------------------------------------------------------------------------------------


def _number(text: str, integer: bool) -> float | None:
    try:
        return float(int(text)) if integer else float(text)
    except ValueError:
        return None


def value_problem(variable: Variable, value: str) -> str | None:
    """Why `value` cannot be this variable's, from its characteristics; None if it can."""
    kind = variable.data_type
    allowed = variable.allowed_values
    if kind in (DataType.INTEGER, DataType.DECIMAL):
        number = _number(value.strip(), kind == DataType.INTEGER)
        if number is None:
            return f"must be {'an integer' if kind == DataType.INTEGER else 'a number'}"
        if variable.min_limit is not None and number < variable.min_limit:
            return f"must be at least {variable.min_limit:g}"
        if variable.max_limit is not None and number > variable.max_limit:
            return f"must be at most {variable.max_limit:g}"
    elif kind == DataType.BOOLEAN:
        if value not in ("true", "false"):
            return "must be true or false"
    elif kind == DataType.DATE_TIME:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "must be a date and time (RFC 3339)"
    elif kind == DataType.OPTION_LIST:
        if allowed and value not in allowed:
            return f"must be one of {', '.join(allowed)}"
    elif kind in (DataType.SEQUENCE_LIST, DataType.MEMBER_LIST):
        members = [m.strip() for m in value.split(",") if m.strip()]
        wrong = [m for m in members if allowed and m not in allowed]
        if wrong:
            return f"{', '.join(wrong)} not among {', '.join(allowed)}"
        if kind == DataType.MEMBER_LIST and len(set(members)) != len(members):
            return "lists a member twice"
    elif kind == DataType.STRING:
        if variable.max_limit is not None and len(value) > variable.max_limit:
            return f"must be at most {variable.max_limit:g} characters"
        if variable.min_limit is not None and len(value) < variable.min_limit:
            return f"must be at least {variable.min_limit:g} characters"
    return None


def check(station_id: str, settings: Sequence[Setting], *, value_max: int = VALUE_MAX) -> None:
    """InputError naming every setting that cannot be sent as it is."""
    if not settings:
        raise InputError("Nothing to set")
    problems: list[str] = []
    seen: set[tuple[Address, str]] = set()
    for setting in settings:  # B05.FR.13: one request sets an attribute once
        key = (setting.address, setting.attribute_type)
        if key in seen:
            problems.append(f"{setting.address} [{setting.attribute_type}] is set twice")
        seen.add(key)
    for setting in settings:
        name = str(setting.address)
        if setting.secret:  # the CSMS must know the key the station will expect
            problems.append(
                f"{name} is the station's key: rotate it with POST /api/stations/{station_id}"
                "/rotate-key/ (or the station page's button), so that the CSMS knows it"
            )
            continue
        if len(setting.value) > value_max:
            problems.append(f"{name}: a value has at most {value_max} characters")
            continue
        variable = inventory.find(station_id, setting.address)
        if variable is None:
            continue  # not reported: the station decides
        attributes = {a.type: a for a in variable.attributes.all()}
        attribute = attributes.get(setting.attribute_type)
        if attributes and attribute is None:
            problems.append(f"{name} has no {setting.attribute_type} attribute")
        elif attribute is not None and attribute.mutability == Mutability.READ_ONLY:
            problems.append(f"{name} is read-only")
        elif (problem := value_problem(variable, setting.value)) is not None:
            problems.append(f"{name} {problem}")
    if problems:
        raise InputError("; ".join(problems))


# --- the station's limits -------------------------------------------------------------------------


def positive_int(text: str | None) -> int | None:
    """A limit the station reported: a positive integer, else None (no limit known)."""
    try:
        value = int(text) if text is not None else 0
    except ValueError:
        return None
    return value if value > 0 else None


def message_limits(
    station_id: str, instance: str, component: str = DEVICE_DATA
) -> tuple[int | None, int | None]:
    """(items, bytes) a message of `instance` may carry, as the station reported them."""

    def actual(variable: str) -> int | None:
        address = Address(ComponentRef(component), VariableRef(variable, instance))
        return positive_int(inventory.actual_value(station_id, address))

    return actual("ItemsPerMessage"), actual("BytesPerMessage")


def split(
    action: str,
    key: str,
    items: Sequence[Any],
    *,
    max_items: int | None,
    max_bytes: int | None,
) -> list[dict[str, Any]]:
    """Payloads `{key: [...]}` of at most `max_items` items and `max_bytes` bytes a frame."""
    payloads: list[dict[str, Any]] = []
    current: list[Any] = []
    size = FRAME_OVERHEAD + len(action) + len(json.dumps({key: []}, separators=(",", ":")))
    used = size
    for item in items:
        item_size = len(json.dumps(item, separators=(",", ":"))) + 1
        if max_bytes is not None and size + item_size > max_bytes:
            raise InputError(
                f"One item is larger than the station's BytesPerMessage ({max_bytes} bytes)"
            )
        full = max_items is not None and len(current) >= max_items
        if current and (full or (max_bytes is not None and used + item_size > max_bytes)):
            payloads.append({key: current})
            current, used = [], size
        current.append(item)
        used += item_size
    if current:
        payloads.append({key: current})
    return payloads


# --- answers --------------------------------------------------------------------------------------


def get_results(station_id: str, results: Sequence[VariableResult]) -> int:
    """GetVariables results: every Accepted value stored. Returns how many."""
    stored = 0
    with atomic():
        for result in results:
            if result.status == "Accepted" and result.value is not None:
                if result.address in SECRETS:
                    continue
                inventory.set_value(station_id, result.address, result.attribute_type, result.value)
                stored += 1
        if stored:
            events.publish("configuration", station=station_id)
    return stored


def set_results(
    station_id: str,
    settings: Sequence[Setting],
    results: Sequence[VariableResult] | None,
    *,
    user: Any = None,
    source: str = "api",
) -> list[VariableChange]:
    """Each setting's change, with the station's answer (None: it never answered, Failed);
    Accepted values are stored, RebootRequired ones kept as pending until the station reports
    them in effect."""
    by_address = {(r.address, r.attribute_type): r for r in results or ()}
    now = utcnow()
    person = user if getattr(user, "is_authenticated", False) else None
    changes: list[VariableChange] = []
    with atomic():
        for setting in settings:
            result = by_address.get((setting.address, setting.attribute_type))
            status = result.status if result is not None else VariableChange.Status.FAILED
            variable: Variable | None = None
            value = MASK if setting.secret else setting.value
            if status in ("Accepted", "RebootRequired") and not setting.secret:
                variable = inventory.set_value(
                    station_id,
                    setting.address,
                    setting.attribute_type,
                    setting.value,
                    pending=status == "RebootRequired",
                )
            else:
                variable = inventory.find(station_id, setting.address)
            component = setting.address.component
            changes.append(
                VariableChange(
                    station_id=station_id,
                    variable=variable,
                    component=OCPP16_COMPONENT
                    if component.name == OCPP16_COMPONENT
                    else str(component),
                    variable_name=str(setting.address.variable),
                    attribute_type=setting.attribute_type,
                    value=value,
                    status=status,
                    status_info=result.status_info if result is not None else "",
                    requested_by=person,
                    source=source,
                    answered_at=now if result is not None else None,
                )
            )
        VariableChange.objects.bulk_create(changes)
        events.publish("configuration", station=station_id)
    return changes
