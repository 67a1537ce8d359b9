"""2.0.1 block B, the device model: GetVariables, SetVariables, GetBaseReport and GetReport over
the station's settings (`emulator.core.device`), which 1.6 reads as configuration keys.

The station enforces its own message limits as a strict charger would: a GetVariables or
SetVariables with more items than its ItemsPerMessage (or more bytes than its BytesPerMessage), a
GetReport naming more components than ItemsPerMessage[GetReport], is answered with an
OccurrenceConstraintViolation CALLERROR (B06.FR.16 allows it), so a CSMS that does not split its
requests fails against it. Reports go out as NotifyReport messages of at most ItemsPerMessage
[GetReport] entries, after the answer (tbc on all but the last).
"""

from __future__ import annotations

import json
from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.core.device import Ref
from emulator.protocol.base import ProtocolBase
from ocppj.errors import ErrorCode, OcppError

NETWORK_SLOTS = 3


class DeviceModel201(ProtocolBase):
    def _within_limits(self, message: str, items: list[dict[str, Any]]) -> None:
        device = self.station.device
        most = device.integer(f"DeviceDataCtrlr.ItemsPerMessage.{message}")
        size = device.integer(f"DeviceDataCtrlr.BytesPerMessage.{message}")
        if len(items) > most:
            raise OcppError(
                ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
                f"{len(items)} items: this station takes at most {most} per {message}",
            )
        if len(json.dumps(items)) > size:
            raise OcppError(
                ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
                f"more than this station's {size} bytes per {message}",
            )

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        self._within_limits("GetVariables", get_variable_data)
        results = []
        for item in get_variable_data:
            ref = Ref.of(item["component"], item["variable"])
            kind = item.get("attribute_type") or "Actual"
            status, value = self.station.device.get_variable(ref, kind)
            component, variable = ref.wire()
            result: dict[str, Any] = {
                "attributeStatus": status,
                "component": component,
                "variable": variable,
            }
            if kind != "Actual":
                result["attributeType"] = kind
            if value is not None:
                result["attributeValue"] = value
            results.append(result)
        return {"getVariableResult": results}

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        self._within_limits("SetVariables", set_variable_data)
        results = []
        for item in set_variable_data:
            ref = Ref.of(item["component"], item["variable"])
            kind = item.get("attribute_type") or "Actual"
            status = self.station.device.set_variable(ref, str(item["attribute_value"]), kind)
            component, variable = ref.wire()
            result: dict[str, Any] = {
                "attributeStatus": status,
                "component": component,
                "variable": variable,
            }
            if kind != "Actual":
                result["attributeType"] = kind
            results.append(result)
        return {"setVariableResult": results}

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> dict[str, Any]:
        data = self.station.device.report()
        if report_base == "ConfigurationInventory":
            data = [e for e in data if e["variableAttribute"][0]["mutability"] != "ReadOnly"]
        elif report_base == "SummaryInventory":
            data = [e for e in data if e["component"]["name"] in ("ChargingStation", "EVSE")]
        self.station.spawn(self._notify_report(request_id, data))
        return {"status": "Accepted"}

    @on(Action.get_report)
    def on_get_report(
        self, request_id: int, component_variable: list[dict[str, Any]] | None = None, **_: Any
    ) -> dict[str, Any]:
        if component_variable:
            self._within_limits("GetReport", component_variable)
        data = self.station.device.report()
        if component_variable:
            data = [entry for entry in data if _requested(entry, component_variable)]
        if not data:
            return {"status": "EmptyResultSet"}
        self.station.spawn(self._notify_report(request_id, data))
        return {"status": "Accepted"}

    @on(Action.set_network_profile)
    def on_set_network_profile(
        self, configuration_slot: int, connection_data: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        """Stored in a slot of 0..NETWORK_SLOTS-1; a profile below the station's own security
        profile is Rejected (no downgrade, B09)."""
        device = self.station.device
        current = device.integer("SecurityProfile")
        if not 0 <= configuration_slot < NETWORK_SLOTS:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidSlot"}}
        if int(connection_data["security_profile"]) < current:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "NoSecurityDowngrade"}}
        device.network_profiles[configuration_slot] = dict(connection_data)
        return {"status": "Accepted"}

    async def _notify_report(self, request_id: int, data: list[dict[str, Any]]) -> None:
        chunk = max(1, self.station.device.integer("DeviceDataCtrlr.ItemsPerMessage.GetReport"))
        parts = [data[i : i + chunk] for i in range(0, len(data), chunk)] or [[]]
        for seq_no, part in enumerate(parts):
            payload: dict[str, Any] = {
                "requestId": request_id,
                "generatedAt": self.station.timestamp(),
                "seqNo": seq_no,
                "tbc": seq_no < len(parts) - 1,
            }
            if part:
                payload["reportData"] = part
            await self.station.call("NotifyReport", payload)


def _requested(entry: dict[str, Any], component_variable: list[dict[str, Any]]) -> bool:
    """Whether a report entry is one of the component (and, if named, variable) asked for."""
    for asked in component_variable:
        if asked["component"]["name"] != entry["component"]["name"]:
            continue
        evse = asked["component"].get("evse")
        if evse and evse.get("id") != entry["component"].get("evse", {}).get("id"):
            continue
        variable = asked.get("variable")
        if variable is None or variable["name"] == entry["variable"]["name"]:
            return True
    return False
