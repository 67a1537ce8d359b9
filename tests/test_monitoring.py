"""Monitoring end to end (OCPP 2.0.1 block N, the CSMS's side): a real server, the emulator as
the station, commands through REST.

- N04: SetVariableMonitoring stores each monitor with the station's id and answer; N04.FR.09 /
  N06.FR.04: requests within MonitoringCtrlr.ItemsPerMessage[...] (TC_N_18);
- N07/N08: NotifyEvent stored; an event at or above OCPP_ALERT_SEVERITY raises an alert, shown in
  REST and on the dashboard, closed when the station reports it cleared;
- N02: GetMonitoringReport's NotifyMonitoringReport parts stored;
- N03/N05: SetMonitoringBase HardWiredOnly leaves no monitor; SetMonitoringLevel stored;
- N09/N10: CustomerInformation's NotifyCustomerInformation parts stored.
"""

from __future__ import annotations

from typing import Any

import pytest

from devicemodel.models import VariableAttribute
from emulator.v201.monitoring import Monitor
from monitoring.models import Alert, CustomerRequest, StationNotice, VariableMonitor
from tests.emulated import WatchedStation, running
from tests.live_api import LiveApi, full_report, staff_token

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10.0
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}


def answered(station: WatchedStation, action: str, count: int = 1):
    """A predicate: the CSMS answered `count` of the station's `action` CALLs."""
    return lambda: station.answered.count(action) >= count


async def set_heartbeat(api: LiveApi, station: str, value: str) -> None:
    status, answer = await api.command(
        station, "SetVariables", {"setVariableData": [{"attributeValue": value, **HEARTBEAT}]}
    )
    assert status == 200, answer


async def test_n04_n07_a_monitor_raises_an_alert_that_clears_with_the_station(live_daphne):
    api = LiveApi(live_daphne, await staff_token())
    async with running(live_daphne, "MON_1") as station:
        status, answer = await api.command(
            "MON_1",
            "SetVariableMonitoring",
            {
                "setMonitoringData": [
                    {"value": 600, "type": "UpperThreshold", "severity": 2, **HEARTBEAT}
                ]
            },
        )
        assert status == 200 and answer["setMonitoringResult"][0]["status"] == "Accepted"
        monitor = await VariableMonitor.objects.aget(station_id="MON_1")
        assert (monitor.component, monitor.variable, monitor.severity, monitor.active) == (
            "OCPPCommCtrlr",
            "HeartbeatInterval",
            2,
            True,
        )
        assert monitor.monitor_id == answer["setMonitoringResult"][0]["id"]

        await set_heartbeat(api, "MON_1", "900")
        await station.until(answered(station, "NotifyEvent"), TIMEOUT)
        notice = await StationNotice.objects.aget(station_id="MON_1")
        assert (notice.actual_value, notice.trigger, notice.severity) == ("900", "Alerting", 2)
        status, alerts = await api.call("GET", "/alerts/?active=true&station=MON_1")
        assert status == 200
        [alert] = alerts["results"]
        assert alert["message"] == "OCPPCommCtrlr.HeartbeatInterval = 900"
        assert alert["severity"] == 2 and alert["active"] is True

        await set_heartbeat(api, "MON_1", "300")
        await station.until(answered(station, "NotifyEvent", 2), TIMEOUT)
        closed = await Alert.objects.aget(station_id="MON_1")
        assert closed.cleared_at is not None and closed.cleared_by == "station"
        status, alerts = await api.call("GET", "/alerts/?active=true")
        assert alerts["results"] == []


async def test_n07_an_event_below_the_operators_severity_is_no_alert(live_daphne):
    api = LiveApi(live_daphne, await staff_token())
    async with running(live_daphne, "MON_2") as station:
        await api.command(
            "MON_2",
            "SetVariableMonitoring",
            {
                "setMonitoringData": [
                    {"value": 100, "type": "Delta", "severity": 7, **HEARTBEAT}  # Notice
                ]
            },
        )
        await set_heartbeat(api, "MON_2", "900")
        await station.until(answered(station, "NotifyEvent"), TIMEOUT)
        notice = await StationNotice.objects.aget(station_id="MON_2")
        assert (notice.trigger, notice.severity) == ("Delta", 7)
        assert not await Alert.objects.filter(station_id="MON_2").aexists()


async def test_n04_fr_09_n06_fr_04_requests_within_the_monitoring_limits(live_daphne):
    """TC_N_18: with MonitoringCtrlr.ItemsPerMessage[...] = 3, five monitors are set in two
    requests and cleared in two (the emulator refuses more)."""
    api = LiveApi(live_daphne, await staff_token())
    async with running(live_daphne, "MON_3", items_per_message=3) as station:
        await full_report(api, station, 900)
        data = [
            {"value": 100 * (i + 1), "type": "UpperThreshold", "severity": 5, **HEARTBEAT}
            for i in range(5)
        ]
        status, answer = await api.command(
            "MON_3", "SetVariableMonitoring", {"setMonitoringData": data}
        )
        assert status == 200
        ids = [r["id"] for r in answer["setMonitoringResult"]]
        assert len(ids) == 5 and station.received.count("SetVariableMonitoring") == 2
        assert await VariableMonitor.objects.filter(station_id="MON_3").acount() == 5

        status, answer = await api.command("MON_3", "ClearVariableMonitoring", {"id": ids})
        assert status == 200
        assert [r["status"] for r in answer["clearMonitoringResult"]] == ["Accepted"] * 5
        assert station.received.count("ClearVariableMonitoring") == 2
        assert not await VariableMonitor.objects.filter(station_id="MON_3").aexists()


async def test_n02_n03_n05_reports_base_and_level(live_daphne):
    api = LiveApi(live_daphne, await staff_token())
    async with running(live_daphne, "MON_4") as station:
        await api.command(
            "MON_4",
            "SetVariableMonitoring",
            {
                "setMonitoringData": [
                    {"value": 10, "type": "LowerThreshold", "severity": 3, **HEARTBEAT}
                ]
            },
        )
        # The station's own record: a monitor the CSMS did not know is reported too.
        protocol: Any = station.protocol
        protocol.monitors[77] = Monitor(77, protocol.monitors[1].ref, "Delta", 5.0, 8)
        status, answer = await api.command("MON_4", "GetMonitoringReport", {"requestId": 31})
        assert (status, answer) == (200, {"status": "Accepted"})
        await station.until(answered(station, "NotifyMonitoringReport"), TIMEOUT)
        found = {
            m.monitor_id: (m.type, m.origin)
            async for m in VariableMonitor.objects.filter(station_id="MON_4")
        }
        assert found == {1: ("LowerThreshold", "csms"), 77: ("Delta", "station")}

        status, answer = await api.command("MON_4", "SetMonitoringLevel", {"severity": 5})
        assert answer == {"status": "Accepted"}
        level = await VariableAttribute.objects.aget(
            variable__component__station_id="MON_4", variable__name="ActiveMonitoringLevel"
        )
        assert level.value == "5"
        status, answer = await api.command(
            "MON_4", "SetMonitoringBase", {"monitoringBase": "HardWiredOnly"}
        )
        assert answer == {"status": "Accepted"}
        assert not await VariableMonitor.objects.filter(station_id="MON_4").aexists()


async def test_n09_n10_customer_information_is_reported_and_cleared(live_daphne):
    api = LiveApi(live_daphne, await staff_token())
    async with running(live_daphne, "MON_5") as station:
        protocol: Any = station.protocol
        protocol.customer_data["driver-42"] = "driver-42: 3 sessions, last 2026-12-01"
        status, answer = await api.command(
            "MON_5",
            "CustomerInformation",
            {"requestId": 61, "report": True, "clear": True, "customerIdentifier": "driver-42"},
        )
        assert (status, answer) == (200, {"status": "Accepted"})

        def reported() -> bool:
            parts = [p for a, p in station.sent if a == "NotifyCustomerInformation"]
            return (
                bool(parts)
                and not parts[-1]["tbc"]
                and station.answered.count("NotifyCustomerInformation") == len(parts)
            )

        await station.until(reported, TIMEOUT)
        request = await CustomerRequest.objects.aget(station_id="MON_5", request_id=61)
        assert (request.report, request.clear, request.customer, request.status) == (
            True,
            True,
            "driver-42",
            "Accepted",
        )
        assert request.data == "driver-42: 3 sessions, last 2026-12-01"
        assert "driver-42" not in protocol.customer_data
        status, listed = await api.call("GET", "/customer-requests/?station=MON_5")
        assert listed["results"][0]["reported"] == request.data
