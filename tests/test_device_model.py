"""The device model end to end (OCPP 2.0.1 block B, 1.6 configuration keys): a real server, the
emulator as the station, commands through the REST API as an integrator sends them.

The CSMS's side of each use case, by requirement:

- B07 / B08: GetBaseReport and GetReport are answered, their NotifyReport parts assembled into
  the stored inventory (components, variables, attributes, characteristics);
- B06.FR.05: GetVariables never carries more items than the station's
  DeviceDataCtrlr.ItemsPerMessage[GetVariables] (the emulator refuses more, as a strict station
  may: B06.FR.16);
- B05: SetVariables values are checked against the reported characteristics before sending, split
  to ItemsPerMessage[SetVariables], each result stored with who asked (RebootRequired kept as
  pending until the station reports the value in effect);
- 1.6: GetConfiguration keys land in the same model (split to GetConfigurationMaxKeys),
  ChangeConfiguration is checked and recorded; secrets are never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201

from devicemodel.models import (
    OCPP16_COMPONENT,
    Component,
    Report,
    Variable,
    VariableAttribute,
    VariableChange,
)
from stations.models import Station
from tests.emulated import WatchedStation, running
from tests.live_api import LiveApi, staff_token
from tests.live_api import full_report as live_full_report
from tests.ocpp_client import connect_ws

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10.0


class Api:
    """The commands of one station, over the live server's REST API."""

    def __init__(self, server: Any, token: str, station: str):
        self.live = LiveApi(server, token)
        self.station = station

    async def command(self, action: str, payload: dict[str, Any]) -> tuple[int, Any]:
        return await self.live.command(self.station, action, payload)


async def full_report(api: Api, station: WatchedStation, request_id: int) -> Report:
    """GetBaseReport FullInventory, and the stored report once its last part was answered."""
    await live_full_report(api.live, station, request_id)
    return await Report.objects.aget(station_id=station.identity, request_id=request_id)


@database_sync_to_async
def attribute(station_id: str, component: str, variable: str, **where: Any) -> VariableAttribute:
    return VariableAttribute.objects.select_related("variable__component").get(
        variable__component__station_id=station_id,
        variable__component__name=component,
        variable__name=variable,
        type="Actual",
        **where,
    )


async def test_b07_a_full_inventory_is_stored_with_its_characteristics(live_daphne):
    token = await staff_token()
    async with running(live_daphne, "DM_1", "2.0.1", connectors=2) as station:
        api = Api(live_daphne, token, "DM_1")
        report = await full_report(api, station, 501)
        expected = station.device.report()
        assert report.status == Report.Status.COMPLETE and report.kind == "FullInventory"
        assert report.entries == len(expected) and not report.missing_parts
        assert report.parts == list(range(len(report.parts))) and len(report.parts) > 1
        assert await Variable.objects.filter(component__station_id="DM_1").acount() == len(expected)

        heartbeat = await attribute("DM_1", "OCPPCommCtrlr", "HeartbeatInterval")
        assert (heartbeat.value, heartbeat.mutability) == ("300", "ReadWrite")
        variable = heartbeat.variable
        assert (variable.data_type, variable.unit) == ("integer", "s")
        assert (variable.min_limit, variable.max_limit) == (1, 86400)
        password = await attribute("DM_1", "SecurityCtrlr", "BasicAuthPassword")
        assert password.mutability == "WriteOnly" and not password.value_known
        members = await attribute("DM_1", "TxCtrlr", "TxStartPoint")
        assert members.variable.data_type == "MemberList"
        assert "EVConnected" in members.variable.allowed_values
        power = await attribute("DM_1", "EVSE", "Power", variable__component__evse_id=2)
        assert power.variable.max_limit == 22000 and power.variable.unit == "W"
        connector = await Component.objects.aget(
            station_id="DM_1", name="Connector", evse_id=2, connector_id=1
        )
        assert str(connector) == "Connector@2:1"
        limit = await attribute(
            "DM_1", "DeviceDataCtrlr", "ItemsPerMessage", variable__instance="GetVariables"
        )
        assert limit.value == "8"


async def test_b06_fr_05_get_variables_never_exceeds_items_per_message(live_daphne):
    """TC_B_08_CSMS: with ItemsPerMessage[GetVariables] = 4, five variables go as 4 + 1, and the
    answer has all five results, each value stored."""
    token = await staff_token()
    async with running(live_daphne, "DM_2", "2.0.1", items_per_message=4) as station:
        api = Api(live_daphne, token, "DM_2")
        await full_report(api, station, 502)
        wanted = [
            ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"),
            ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"),
            ("DeviceDataCtrlr", "BytesPerMessage", "GetReport"),
            ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"),
            ("AuthCtrlr", "AuthorizeRemoteStart", ""),
        ]
        payload = {
            "getVariableData": [
                {
                    "component": {"name": c},
                    "variable": {"name": v, **({"instance": i} if i else {})},
                }
                for c, v, i in wanted
            ]
        }
        status, answer = await api.command("GetVariables", payload)
        assert status == 200, answer
        results = answer["getVariableResult"]
        assert [r["attributeStatus"] for r in results] == ["Accepted"] * 5
        assert [r["attributeValue"] for r in results] == ["4", "4", "4096", "4096", "true"]
        assert station.received.count("GetVariables") == 2
        stored = await attribute("DM_2", "AuthCtrlr", "AuthorizeRemoteStart")
        assert stored.value == "true"


async def test_b06_a_station_that_reported_no_limit_gets_one_message(live_daphne):
    token = await staff_token()
    async with running(live_daphne, "DM_3", "2.0.1") as station:
        api = Api(live_daphne, token, "DM_3")
        status, answer = await api.command(
            "GetVariables",
            {
                "getVariableData": [
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    },
                    {"component": {"name": "NoSuchCtrlr"}, "variable": {"name": "X"}},
                ]
            },
        )
        assert status == 200
        assert [r["attributeStatus"] for r in answer["getVariableResult"]] == [
            "Accepted",
            "UnknownComponent",
        ]
        assert station.received.count("GetVariables") == 1


async def test_b05_set_variables_are_checked_recorded_and_split(live_daphne):
    token = await staff_token()
    async with running(live_daphne, "DM_4", "2.0.1", items_per_message=2) as station:
        api = Api(live_daphne, token, "DM_4")
        await full_report(api, station, 503)

        def setting(component: str, variable: str, value: str) -> dict[str, Any]:
            return {
                "component": {"name": component},
                "variable": {"name": variable},
                "attributeValue": value,
            }

        # Checked before anything is sent: above the reported maximum, read-only, not an option.
        for bad, message in (
            (setting("OCPPCommCtrlr", "HeartbeatInterval", "100000"), "at most 86400"),
            (setting("ChargingStation", "Model", "X"), "read-only"),
            (setting("ClockCtrlr", "TimeSource", "Sundial"), "must be one of Heartbeat"),
            (setting("TxCtrlr", "TxStartPoint", "EVConnected,Teleport"), "Teleport not among"),
        ):
            status, answer = await api.command("SetVariables", {"setVariableData": [bad]})
            assert status == 400 and message in answer["message"], answer
        assert "SetVariables" not in station.received

        status, answer = await api.command(
            "SetVariables",
            {
                "setVariableData": [
                    setting("OCPPCommCtrlr", "HeartbeatInterval", "120"),
                    setting("OCPPCommCtrlr", "WebSocketPingInterval", "60"),
                    setting("SampledDataCtrlr", "TxUpdatedInterval", "15"),
                ]
            },
        )
        assert status == 200, answer
        assert [r["attributeStatus"] for r in answer["setVariableResult"]] == [
            "Accepted",
            "RebootRequired",
            "Accepted",
        ]
        assert station.received.count("SetVariables") == 2  # ItemsPerMessage[SetVariables] = 2
        assert station.device.settings["HeartbeatInterval"].value == "120"

        heartbeat = await attribute("DM_4", "OCPPCommCtrlr", "HeartbeatInterval")
        assert heartbeat.value == "120" and not heartbeat.reboot_required
        ping = await attribute("DM_4", "OCPPCommCtrlr", "WebSocketPingInterval")
        assert (ping.value, ping.pending_value, ping.reboot_required) == ("30", "60", True)
        history = [
            (c.variable_name, c.value, c.status, c.requested_by and c.requested_by.username)
            async for c in VariableChange.objects.filter(station_id="DM_4")
            .select_related("requested_by")
            .order_by("id")
        ]
        assert history == [
            ("HeartbeatInterval", "120", "Accepted", "operator"),
            ("WebSocketPingInterval", "60", "RebootRequired", "operator"),
            ("TxUpdatedInterval", "15", "Accepted", "operator"),
        ]

        # The reboot puts the pending value in effect; the station's next report confirms it.
        def boots() -> int:
            return sum(1 for action, _ in station.sent if action == "BootNotification")

        before = boots()
        status, answer = await api.command("Reset", {"type": "Immediate"})
        assert (status, answer["status"]) == (200, "Accepted")
        await station.until(lambda: boots() > before and station.online.is_set(), TIMEOUT)
        status, answer = await api.command(
            "GetVariables",
            {
                "getVariableData": [
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "WebSocketPingInterval"},
                    }
                ]
            },
        )
        assert answer["getVariableResult"][0]["attributeValue"] == "60"
        ping = await attribute("DM_4", "OCPPCommCtrlr", "WebSocketPingInterval")
        assert (ping.value, ping.reboot_required) == ("60", False)


async def test_b05_a_key_is_not_set_as_a_variable(live_daphne):
    """The station's key goes through its rotation (stations/keys.py), never a raw SetVariables:
    the CSMS would not know the key the station then expects (tests/test_key_rotation.py)."""
    token = await staff_token()
    async with running(live_daphne, "DM_5", "2.0.1") as station:
        api = Api(live_daphne, token, "DM_5")
        status, answer = await api.command(
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "component": {"name": "SecurityCtrlr"},
                        "variable": {"name": "BasicAuthPassword"},
                        "attributeValue": "a-new-secret-of-sixteen",
                    }
                ]
            },
        )
        assert status == 400 and "rotate-key" in answer["message"]
        assert "SetVariables" not in station.received
        assert not await VariableAttribute.objects.filter(value="a-new-secret-of-sixteen").aexists()


async def test_16_get_configuration_lands_in_the_device_model(live_daphne):
    token = await staff_token()
    async with running(live_daphne, "DM_6", "1.6", configuration_max_keys=2) as station:
        api = Api(live_daphne, token, "DM_6")
        status, answer = await api.command("GetConfiguration", {})
        assert status == 200
        keys = {k["key"]: k for k in answer["configurationKey"]}
        assert keys["GetConfigurationMaxKeys"]["value"] == "2"
        stored = {
            v.name: v
            async for v in Variable.objects.filter(
                component__station_id="DM_6", component__name=OCPP16_COMPONENT
            ).prefetch_related("attributes")
        }
        assert set(stored) == set(keys)
        heartbeat = await attribute("DM_6", OCPP16_COMPONENT, "HeartbeatInterval")
        assert (heartbeat.value, heartbeat.mutability) == ("300", "ReadWrite")
        readonly = await attribute("DM_6", OCPP16_COMPONENT, "NumberOfConnectors")
        assert readonly.mutability == "ReadOnly"
        secret = await attribute("DM_6", OCPP16_COMPONENT, "AuthorizationKey")
        assert not secret.value_known

        # Three keys with GetConfigurationMaxKeys = 2: two requests, one answer.
        status, answer = await api.command(
            "GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey", "ResetRetries"]}
        )
        assert status == 200
        assert station.received.count("GetConfiguration") == 3
        assert answer["unknownKey"] == ["NoSuchKey"]
        assert [k["key"] for k in answer["configurationKey"]] == [
            "HeartbeatInterval",
            "ResetRetries",
        ]
        latest = await Report.objects.filter(station_id="DM_6").order_by("-id").afirst()
        assert latest is not None and latest.unknown_keys == []  # the last request's part
        assert await Report.objects.filter(station_id="DM_6", unknown_keys=["NoSuchKey"]).aexists()


async def test_16_change_configuration_is_checked_and_recorded(live_daphne):
    token = await staff_token()
    async with running(live_daphne, "DM_7", "1.6") as station:
        api = Api(live_daphne, token, "DM_7")
        await api.command("GetConfiguration", {})
        status, answer = await api.command(
            "ChangeConfiguration", {"key": "NumberOfConnectors", "value": "4"}
        )
        assert status == 400 and "read-only" in answer["message"]
        for key, value, expected in (
            ("HeartbeatInterval", "120", "Accepted"),
            ("WebSocketPingInterval", "45", "RebootRequired"),
            ("NoSuchKey", "1", "NotSupported"),
        ):
            status, answer = await api.command("ChangeConfiguration", {"key": key, "value": value})
            assert (status, answer) == (200, {"status": expected})
        assert station.device.settings["HeartbeatInterval"].value == "120"
        history = [
            (c.variable_name, c.value, c.status)
            async for c in VariableChange.objects.filter(station_id="DM_7").order_by("id")
        ]
        assert history == [
            ("HeartbeatInterval", "120", "Accepted"),
            ("WebSocketPingInterval", "45", "RebootRequired"),
            ("NoSuchKey", "1", "NotSupported"),
        ]
        status, answer = await api.command(
            "ChangeConfiguration",
            {"key": "AuthorizationKey", "value": "6e65772d6b65792d6f662d31362d6279746573"},
        )
        assert status == 400 and "rotate-key" in answer["message"]
        heartbeat = await attribute("DM_7", OCPP16_COMPONENT, "HeartbeatInterval")
        assert heartbeat.value == "120"


# --- an independent client: the `ocpp` library's ChargePoint ---------------------------------------


class LibraryStation(ChargePoint201):
    """A station written with the `ocpp` library alone: it reports a tiny device model whose
    ItemsPerMessage[GetVariables] is 2, and records the size of every GetVariables it gets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.get_sizes: list[int] = []
        self.report_done = asyncio.Event()

    @on(Action201.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any):
        return result201.GetBaseReport(status="Accepted")

    @after(Action201.get_base_report)
    async def send_report(self, request_id: int, report_base: str, **_: Any) -> None:
        def entry(component: str, variable: str, value: str, instance: str = "") -> dict:
            return {
                "component": {"name": component},
                "variable": {"name": variable, **({"instance": instance} if instance else {})},
                "variable_attribute": [{"value": value, "mutability": "ReadOnly"}],
                "variable_characteristics": {"data_type": "integer", "supports_monitoring": False},
            }

        parts = [
            [entry("DeviceDataCtrlr", "ItemsPerMessage", "2", "GetVariables")],
            [entry("OCPPCommCtrlr", "HeartbeatInterval", "300")],
        ]
        for seq_no, data in enumerate(parts):
            await self.call(
                call201.NotifyReport(
                    request_id=request_id,
                    generated_at=now(),
                    seq_no=seq_no,
                    tbc=seq_no < len(parts) - 1,
                    report_data=data,
                )
            )
        self.report_done.set()

    @on(Action201.get_variables)
    def on_get_variables(self, get_variable_data: list[dict], **_: Any):
        self.get_sizes.append(len(get_variable_data))
        return result201.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": "7",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in get_variable_data
            ]
        )


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def test_b06_fr_05_with_a_library_station(live_daphne):
    """The same rule with a station the project did not write: the CSMS assembles its two-part
    report, reads its limit, and splits five variables into 2 + 2 + 1."""
    token = await staff_token()
    await database_sync_to_async(Station.objects.create)(id="LIB_DM")
    ws = await connect_ws(live_daphne.url, "LIB_DM", "2.0.1")
    station = LibraryStation("LIB_DM", ws, response_timeout=10)
    reader = asyncio.create_task(station.start())
    try:
        boot = await station.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Lib", "model": "One"}, reason="PowerUp"
            )
        )
        assert boot.status == "Accepted"
        api = Api(live_daphne, token, "LIB_DM")
        status, answer = await api.command(
            "GetBaseReport", {"requestId": 5, "reportBase": "FullInventory"}
        )
        assert (status, answer) == (200, {"status": "Accepted"})
        await asyncio.wait_for(station.report_done.wait(), TIMEOUT)
        report = await Report.objects.aget(station_id="LIB_DM", request_id=5)
        assert report.status == Report.Status.COMPLETE and report.entries == 2
        names = [f"OCPPCommCtrlr.V{i}" for i in range(5)]
        status, answer = await api.command(
            "GetVariables",
            {
                "getVariableData": [
                    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": n.split(".")[1]}}
                    for n in names
                ]
            },
        )
        assert status == 200 and len(answer["getVariableResult"]) == 5
        assert station.get_sizes == [2, 2, 1]
    finally:
        await ws.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await reader
