"""2.0.1 block B, the device model: GetVariables, SetVariables, GetBaseReport and GetReport over
the station's settings (`emulator.core.device`), which 1.6 reads as configuration keys.

Reports go out as NotifyReport messages of at most 20 entries, after the answer, as the CSMS must
expect (tbc on all but the last).
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.protocol.base import ProtocolBase

REPORT_CHUNK = 20


class DeviceModel201(ProtocolBase):
    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        results = []
        for item in get_variable_data:
            component, variable = item["component"]["name"], item["variable"]["name"]
            status, value = self.station.device.get_variable(component, variable)
            result = {
                "attributeStatus": status,
                "component": {"name": component},
                "variable": {"name": variable},
            }
            if value is not None:
                result["attributeValue"] = value
            results.append(result)
        return {"getVariableResult": results}

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        results = []
        for item in set_variable_data:
            component, variable = item["component"]["name"], item["variable"]["name"]
            status = self.station.device.set_variable(
                component, variable, str(item["attribute_value"])
            )
            results.append(
                {
                    "attributeStatus": status,
                    "component": {"name": component},
                    "variable": {"name": variable},
                }
            )
        return {"setVariableResult": results}

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> dict[str, Any]:
        self.station.spawn(self._notify_report(request_id, self.station.device.report()))
        return {"status": "Accepted"}

    @on(Action.get_report)
    def on_get_report(
        self, request_id: int, component_variable: list[dict[str, Any]] | None = None, **_: Any
    ) -> dict[str, Any]:
        data = self.station.device.report()
        if component_variable:
            data = [entry for entry in data if _requested(entry, component_variable)]
        if not data:
            return {"status": "EmptyResultSet"}
        self.station.spawn(self._notify_report(request_id, data))
        return {"status": "Accepted"}

    async def _notify_report(
        self, request_id: int, data: list[dict[str, Any]], chunk: int = REPORT_CHUNK
    ) -> None:
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
        variable = asked.get("variable")
        if variable is None or variable["name"] == entry["variable"]["name"]:
            return True
    return False
