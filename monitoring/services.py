"""Monitors, events, alerts and customer information: what the station's messages and answers
mean (OCPP 2.0.1 N02-N10). Plain functions over the ORM, one transaction each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from devicemodel import inventory, reports
from devicemodel.models import Report
from devicemodel.readings import field, status_info
from devicemodel.references import Address, ComponentRef, VariableRef
from monitoring.models import Alert, CustomerRequest, StationNotice, VariableMonitor
from stations import events
from stations.clock import parse_ocpp_time, utcnow
from stations.db import atomic

ALERTING = "Alerting"
CONTROLLER = "MonitoringCtrlr"


def _labels(item: dict[str, Any]) -> tuple[str, str]:
    """(component, variable) in the operator's notation."""
    ref = ComponentRef.from_wire(item["component"])
    return str(ref), str(VariableRef.from_wire(item["variable"]))


@dataclass(frozen=True)
class MonitorSetting:
    """One SetMonitoringData."""

    address: Address
    type: str
    value: float
    severity: int
    transaction: bool = False
    id: int | None = None  # replaces the station's monitor of that id

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": self.value,
            "type": self.type,
            "severity": self.severity,
            "component": self.address.component.wire(),
            "variable": self.address.variable.wire(),
        }
        if self.transaction:
            out["transaction"] = True
        if self.id is not None:
            out["id"] = self.id
        return out

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> MonitorSetting:
        return cls(
            Address(
                ComponentRef.from_wire(data["component"]), VariableRef.from_wire(data["variable"])
            ),
            str(data["type"]),
            float(data["value"]),
            int(data["severity"]),
            bool(data.get("transaction", False)),
            data.get("id"),
        )


def monitors_set(
    station_id: str, settings_: Sequence[MonitorSetting], results: Sequence[dict[str, Any]] | None
) -> list[VariableMonitor]:
    """SetVariableMonitoring's results (N04): each monitor stored with the id the station gave
    it and its status; a request that was never answered stores nothing."""
    if results is None:
        return []
    stored: list[VariableMonitor] = []
    with atomic():
        remaining = list(results)
        for setting in settings_:
            component, variable = str(setting.address.component), str(setting.address.variable)
            result = next(
                (
                    r
                    for r in remaining
                    if _labels(r) == (component, variable)
                    and field(r, "type") == setting.type
                    and int(field(r, "severity")) == setting.severity
                ),
                None,
            )
            if result is None:
                continue
            remaining.remove(result)
            status = str(field(result, "status"))
            monitor_id = result.get("id")
            fields = {
                "component": component,
                "variable": variable,
                "type": setting.type,
                "value": setting.value,
                "severity": setting.severity,
                "transaction": setting.transaction,
                "status": status,
                "status_info": status_info(field(result, "statusInfo")),
                "active": status == "Accepted",
            }
            if status == "Accepted" and monitor_id is not None:
                monitor, _ = VariableMonitor.objects.update_or_create(
                    station_id=station_id, monitor_id=int(monitor_id), defaults=fields
                )
            else:  # kept as the operator's attempt, with the station's reason
                monitor = VariableMonitor.objects.create(station_id=station_id, **fields)
            stored.append(monitor)
    return stored


def monitors_cleared(station_id: str, results: Sequence[dict[str, Any]]) -> int:
    """ClearVariableMonitoring's results (N06): Accepted and NotFound monitors are gone."""
    gone = [int(r["id"]) for r in results if field(r, "status") in ("Accepted", "NotFound")]
    removed, _ = VariableMonitor.objects.filter(station_id=station_id, monitor_id__in=gone).delete()
    return removed


def base_set(station_id: str, base: str) -> None:
    """SetMonitoringBase Accepted (N03): HardWiredOnly leaves no custom or preconfigured monitor,
    FactoryDefault no custom one."""
    with atomic():
        monitors = VariableMonitor.objects.filter(station_id=station_id)
        if base == "HardWiredOnly":
            monitors.delete()
        elif base == "FactoryDefault":
            monitors.filter(origin=VariableMonitor.Origin.CSMS).delete()
        address = Address(ComponentRef(CONTROLLER), VariableRef("ActiveMonitoringBase"))
        inventory.set_value(station_id, address, "Actual", base)


def level_set(station_id: str, severity: int) -> None:
    """SetMonitoringLevel Accepted (N05): the station reports events of this severity or worse."""
    address = Address(ComponentRef(CONTROLLER), VariableRef("ActiveMonitoringLevel"))
    inventory.set_value(station_id, address, "Actual", str(severity))


def monitoring_report_part(
    station_id: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    generated_at: datetime | None,
    monitors: Sequence[dict[str, Any]],
) -> Report:
    """One NotifyMonitoringReport (N02): the station's monitors, stored by their id."""

    def store(report: Report) -> int:
        count = 0
        for item in monitors:
            component, variable = _labels(item)
            for monitor in field(item, "variableMonitoring", []):
                existing = VariableMonitor.objects.filter(
                    station_id=station_id, monitor_id=int(monitor["id"])
                ).first()
                VariableMonitor.objects.update_or_create(
                    station_id=station_id,
                    monitor_id=int(monitor["id"]),
                    defaults={
                        "component": component,
                        "variable": variable,
                        "type": str(monitor["type"]),
                        "value": float(monitor["value"]),
                        "severity": int(monitor["severity"]),
                        "transaction": bool(monitor.get("transaction", False)),
                        "origin": existing.origin if existing else VariableMonitor.Origin.STATION,
                        "status": existing.status if existing else "",
                        "active": True,
                        "reported_in": report.pk,
                    },
                )
                count += 1
        return count

    return reports.receive_part(station_id, request_id, seq_no, tbc, generated_at, store)


def _replace_monitors(report: Report) -> None:
    """A complete report of every monitor (no criteria) replaces the station's list."""
    if not report.criteria:
        VariableMonitor.objects.filter(
            station_id=report.station_id, monitor_id__isnull=False
        ).exclude(reported_in=report.pk).delete()


reports.FINISHERS[str(Report.Kind.MONITORING)] = _replace_monitors


# --- events and alerts -------------------------------------------------------------------------


def is_alert(severity: int | None, trigger: str) -> bool:
    if severity is None:
        return trigger == ALERTING
    return severity <= settings.OCPP_ALERT_SEVERITY


def events_received(station_id: str, event_data: Sequence[dict[str, Any]]) -> list[StationNotice]:
    """One NotifyEvent (N07, N08): every event stored once (a resent message changes nothing),
    an alert raised for each at or above the operator's severity, and closed when the station
    reports the same component and variable cleared."""
    with atomic():
        monitor_ids = {
            int(field(e, "variableMonitoringId"))
            for e in event_data
            if field(e, "variableMonitoringId") is not None
        }
        severities = dict(
            VariableMonitor.objects.filter(
                station_id=station_id, monitor_id__in=monitor_ids
            ).values_list("monitor_id", "severity")
        )
        notices: list[StationNotice] = []
        for item in event_data:
            component, variable = _labels(item)
            monitor_id = field(item, "variableMonitoringId")
            timestamp = parse_ocpp_time(item["timestamp"]) or utcnow()
            notice, created = StationNotice.objects.get_or_create(
                station_id=station_id,
                event_id=int(field(item, "eventId")),
                timestamp=timestamp,
                defaults={
                    "trigger": str(item["trigger"]),
                    "cause": item.get("cause"),
                    "actual_value": str(field(item, "actualValue"))[:2500],
                    "tech_code": str(field(item, "techCode", "") or "")[:50],
                    "tech_info": str(field(item, "techInfo", "") or "")[:500],
                    "cleared": bool(item.get("cleared", False)),
                    "transaction_id": str(field(item, "transactionId", "") or ""),
                    "monitor_id": monitor_id,
                    "notification_type": str(field(item, "eventNotificationType")),
                    "component": component,
                    "variable": variable,
                    "severity": severities.get(monitor_id) if monitor_id is not None else None,
                },
            )
            if created:
                _alert(notice)
                notices.append(notice)
        return notices


def _alert(notice: StationNotice) -> None:
    key: dict[str, Any] = {
        "station_id": notice.station_id,
        "component": notice.component,
        "variable": notice.variable,
    }
    if notice.cleared:
        closed = Alert.objects.filter(cleared_at__isnull=True, **key).update(
            cleared_at=notice.timestamp, cleared_by="station"
        )
        if closed:
            events.publish("alert", station=notice.station_id, active=False)
        return
    if not is_alert(notice.severity, notice.trigger):
        return
    message = f"{notice.component}.{notice.variable} = {notice.actual_value}"
    if notice.tech_info:
        message += f" ({notice.tech_info})"
    Alert.objects.update_or_create(
        cleared_at=None,
        **key,
        defaults={
            "severity": notice.severity,
            "message": message[:600],
            "notice": notice,
            "raised_at": notice.timestamp,
        },
    )
    events.publish("alert", station=notice.station_id, active=True)


def acknowledge(alert_id: int, user: Any) -> Alert:
    """An operator closes an alert the station will not clear itself."""
    with atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        if alert.cleared_at is None:
            alert.cleared_at = utcnow()
            alert.cleared_by = user.get_username() if user is not None else "operator"
            alert.save(update_fields=["cleared_at", "cleared_by"])
            events.publish("alert", station=alert.station_id, active=False)
        return alert


# --- customer information (N09, N10) -------------------------------------------------------------


def customer_answered(
    station_id: str, sent: dict[str, Any], status: str, *, user: Any = None
) -> CustomerRequest:
    customer = str(
        sent.get("customerIdentifier")
        or (sent.get("idToken") or {}).get("idToken")
        or (sent.get("customerCertificate") or {}).get("serialNumber")
        or ""
    )
    with atomic():
        # The report first, then the request: the order in which a NotifyCustomerInformation part
        # (receive_part) locks them, so the two never deadlock.
        reports.report_answered(
            station_id,
            int(sent["requestId"]),
            Report.Kind.CUSTOMER,
            status,
            criteria={"customer": customer},
            user=user,
        )
        found, _ = CustomerRequest.objects.update_or_create(
            station_id=station_id,
            request_id=int(sent["requestId"]),
            defaults={
                "report": bool(sent["report"]),
                "clear": bool(sent["clear"]),
                "customer": customer[:64],
                "status": status,
                "requested_by": user if getattr(user, "is_authenticated", False) else None,
            },
        )
        return found


def customer_part(
    station_id: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    generated_at: datetime | None,
    data: str,
) -> Report:
    """One NotifyCustomerInformation: the part of the report on the customer's data."""

    def store(report: Report) -> int:
        found, _ = CustomerRequest.objects.get_or_create(
            station_id=station_id,
            request_id=request_id,
            defaults={"report": True, "clear": False, "customer": ""},
        )
        found.parts = {**found.parts, str(seq_no): data}
        found.save(update_fields=["parts"])
        return 1

    return reports.receive_part(station_id, request_id, seq_no, tbc, generated_at, store)
