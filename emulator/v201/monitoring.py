"""2.0.1 block N, monitoring: SetVariableMonitoring, ClearVariableMonitoring, SetMonitoringBase,
SetMonitoringLevel, GetMonitoringReport, and monitors that fire NotifyEvent when a value crosses
them; CustomerInformation with NotifyCustomerInformation.

A monitor watches one of the station's settings (`emulator.core.device`): when the setting
changes (a SetVariables, a ChangeConfiguration, a reboot applying a pending value), an
UpperThreshold monitor whose value is exceeded sends an Alerting event, and a cleared one when the
value is back within it; LowerThreshold the same below; Delta an event on a change of at least its
value. Limits as for the device model: more items than MonitoringCtrlr.ItemsPerMessage[...] is an
OccurrenceConstraintViolation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.core.device import Ref
from emulator.protocol.base import ProtocolBase
from ocppj.errors import ErrorCode, OcppError

MONITOR_TYPES = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned")


@dataclass
class Monitor:
    id: int
    ref: Ref
    type: str
    value: float
    severity: int
    transaction: bool = False
    tripped: bool = False
    last: float | None = None


class Monitoring201(ProtocolBase):
    def __init__(self, station: Any) -> None:
        super().__init__(station)
        self.monitors: dict[int, Monitor] = {}
        self._ids = itertools.count(1)
        self._events = itertools.count(1)
        self.monitoring_level = 9
        self.customer_data: dict[str, str] = {}  # customer -> what the station holds of them

    def _most(self, message: str) -> int:
        return self.station.device.integer(f"MonitoringCtrlr.ItemsPerMessage.{message}")

    def _check_items(self, message: str, count: int) -> None:
        if count > self._most(message):
            raise OcppError(
                ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
                f"{count} items: this station takes at most {self._most(message)} per {message}",
            )

    @on(Action.set_variable_monitoring)
    def on_set_variable_monitoring(
        self, set_monitoring_data: list[dict[str, Any]], **_: Any
    ) -> dict[str, Any]:
        self._check_items("SetVariableMonitoring", len(set_monitoring_data))
        device = self.station.device
        results = []
        for item in set_monitoring_data:
            ref = Ref.of(item["component"], item["variable"])
            status, key = device.lookup(ref)
            component, variable = ref.wire()
            result: dict[str, Any] = {
                "type": item["type"],
                "severity": item["severity"],
                "component": component,
                "variable": variable,
            }
            if (key is not None and device.settings[key].kind not in ("int", "decimal")) or (
                key is not None and item["type"] not in MONITOR_TYPES
            ):
                status = "UnsupportedMonitorType"
            if status == "Accepted":
                monitor_id = int(item.get("id") or next(self._ids))
                self.monitors[monitor_id] = Monitor(
                    monitor_id,
                    ref,
                    item["type"],
                    float(item["value"]),
                    int(item["severity"]),
                    bool(item.get("transaction", False)),
                    last=float(device.settings[key].value) if key else None,
                )
                result["id"] = monitor_id
            result["status"] = status
            results.append(result)
        return {"setMonitoringResult": results}

    @on(Action.clear_variable_monitoring)
    def on_clear_variable_monitoring(self, id: list[int], **_: Any) -> dict[str, Any]:
        self._check_items("ClearVariableMonitoring", len(id))
        results = []
        for monitor_id in id:
            found = self.monitors.pop(monitor_id, None)
            results.append({"id": monitor_id, "status": "Accepted" if found else "NotFound"})
        return {"clearMonitoringResult": results}

    @on(Action.set_monitoring_base)
    def on_set_monitoring_base(self, monitoring_base: str, **_: Any) -> dict[str, Any]:
        if monitoring_base in ("FactoryDefault", "HardWiredOnly"):
            self.monitors.clear()  # this station has no preconfigured monitors
        return {"status": "Accepted"}

    @on(Action.set_monitoring_level)
    def on_set_monitoring_level(self, severity: int, **_: Any) -> dict[str, Any]:
        self.monitoring_level = severity
        return {"status": "Accepted"}

    @on(Action.get_monitoring_report)
    def on_get_monitoring_report(self, request_id: int, **fields: Any) -> dict[str, Any]:
        wanted = fields.get("component_variable") or []
        monitors = [
            m
            for m in self.monitors.values()
            if not wanted or any(w["component"]["name"] == m.ref.component for w in wanted)
        ]
        if not monitors:
            return {"status": "EmptyResultSet"}
        self.station.spawn(self._report(request_id, monitors))
        return {"status": "Accepted"}

    async def _report(self, request_id: int, monitors: list[Monitor]) -> None:
        chunk = max(1, self.station.device.limits.items)
        parts = [monitors[i : i + chunk] for i in range(0, len(monitors), chunk)]
        for seq_no, part in enumerate(parts):
            data = []
            for m in part:
                component, variable = m.ref.wire()
                data.append(
                    {
                        "component": component,
                        "variable": variable,
                        "variableMonitoring": [
                            {
                                "id": m.id,
                                "transaction": m.transaction,
                                "value": m.value,
                                "type": m.type,
                                "severity": m.severity,
                            }
                        ],
                    }
                )
            await self.station.call(
                "NotifyMonitoringReport",
                {
                    "requestId": request_id,
                    "seqNo": seq_no,
                    "tbc": seq_no < len(parts) - 1,
                    "generatedAt": self.station.timestamp(),
                    "monitor": data,
                },
            )

    def setting_changed(self, key: str) -> None:
        """A setting changed: the monitors on it that it crossed notify the CSMS."""
        super().setting_changed(key)
        device = self.station.device
        try:
            value = float(device.settings[key].value)
        except (KeyError, ValueError):
            return
        events = []
        for monitor in self.monitors.values():
            if device.key_of(monitor.ref) != key or monitor.severity > self.monitoring_level:
                continue
            event = self._crossed(monitor, value)
            if event is not None:
                events.append(event)
        if events:
            self.station.spawn(
                self.station.call(
                    "NotifyEvent",
                    {"generatedAt": self.station.timestamp(), "seqNo": 0, "eventData": events},
                )
            )

    def _crossed(self, monitor: Monitor, value: float) -> dict[str, Any] | None:
        previous, monitor.last = monitor.last, value
        trigger, cleared = "Alerting", False
        if monitor.type in ("UpperThreshold", "LowerThreshold"):
            over = (
                value > monitor.value if monitor.type == "UpperThreshold" else value < monitor.value
            )
            if over == monitor.tripped:
                return None
            monitor.tripped, cleared = over, not over
        elif monitor.type == "Delta":
            if previous is not None and abs(value - previous) < monitor.value:
                monitor.last = previous  # a delta is measured from the last reported value
                return None
            trigger = "Delta"
        else:
            return None
        component, variable = monitor.ref.wire()
        event: dict[str, Any] = {
            "eventId": next(self._events),
            "timestamp": self.station.timestamp(),
            "trigger": trigger,
            "actualValue": f"{value:g}",
            "eventNotificationType": "CustomMonitor",
            "variableMonitoringId": monitor.id,
            "component": component,
            "variable": variable,
        }
        if cleared:
            event["cleared"] = True
        return event

    @on(Action.customer_information)
    def on_customer_information(
        self, request_id: int, report: bool, clear: bool, **fields: Any
    ) -> dict[str, Any]:
        customer = fields.get("customer_identifier") or (fields.get("id_token") or {}).get(
            "id_token", ""
        )
        if not customer:
            return {"status": "Invalid"}
        held = self.customer_data.get(customer, f"{customer}: no sessions on this station")
        if clear:
            self.customer_data.pop(customer, None)
            self.station.local_list.pop(customer, None)
        if report:
            self.station.spawn(self._customer_report(request_id, held))
        return {"status": "Accepted"}

    async def _customer_report(self, request_id: int, data: str, chunk: int = 32) -> None:
        parts = [data[i : i + chunk] for i in range(0, len(data), chunk)] or [""]
        for seq_no, part in enumerate(parts):
            await self.station.call(
                "NotifyCustomerInformation",
                {
                    "data": part,
                    "tbc": seq_no < len(parts) - 1,
                    "seqNo": seq_no,
                    "generatedAt": self.station.timestamp(),
                    "requestId": request_id,
                },
            )
