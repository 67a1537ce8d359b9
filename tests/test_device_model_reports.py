"""Reports assembled from parts as a station may really send them (in process, exact frames): out
of order, resent, a part missing, before or after the GetBaseReport answer; the inventory a
complete FullInventory replaces; the REST lists and the configuration page over what is stored.
And the units that decide what is sent: the notation, the checks, the splitting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.test import AsyncClient

from devicemodel import changes
from devicemodel.models import Report, Variable, VariableAttribute, VariableChange
from devicemodel.references import Address, ComponentRef, VariableRef
from stations.remote.forms import InputError
from tests.api_clients import make_user
from tests.ocpp_client import OcppTestClient

pytestmark = pytest.mark.django_db(transaction=True)

T0 = "2026-12-03T10:00:00Z"


def entry(
    component: str, variable: str, value: str | None, evse: int = 0, **extra: Any
) -> dict[str, Any]:
    """A reportData entry; `extra` (camelCase) are its characteristics, if any."""
    attribute: dict[str, Any] = {
        "type": "Actual",
        "mutability": extra.pop("mutability", "ReadWrite"),
    }
    if value is not None:
        attribute["value"] = value
    data: dict[str, Any] = {
        "component": {"name": component, **({"evse": {"id": evse}} if evse else {})},
        "variable": {"name": variable},
        "variableAttribute": [attribute],
    }
    if extra:
        data["variableCharacteristics"] = {"supportsMonitoring": False, **extra}
    return data


def part(request_id: int, seq_no: int, tbc: bool, *entries: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "requestId": request_id,
        "generatedAt": T0,
        "seqNo": seq_no,
        "tbc": tbc,
    }
    if entries:
        payload["reportData"] = list(entries)
    return payload


@pytest.fixture
async def station(make_station):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    yield client
    await client.close()


@pytest.fixture
async def operator(transactional_db):
    return await make_user("operator", staff=True)


async def ask_full_report(operator, station, request_id: int, status: str = "Accepted") -> None:
    request = asyncio.create_task(
        operator.post(
            "/api/stations/CP_1/commands/GetBaseReport/",
            {"requestId": request_id, "reportBase": "FullInventory"},
            content_type="application/json",
        )
    )
    call = await station.receive()
    assert call[2] == "GetBaseReport"
    await station.send([3, call[1], {"status": status}])
    assert (await request).status_code == 200


async def test_b07_parts_out_of_order_and_resent_are_assembled_once(station, operator):
    await ask_full_report(operator, station, 11)
    assert (await Report.objects.aget(request_id=11)).status == Report.Status.ACCEPTED
    hb = entry("OCPPCommCtrlr", "HeartbeatInterval", "300", dataType="integer", unit="s")
    auth = entry("AuthCtrlr", "AuthorizeRemoteStart", "true", dataType="boolean")
    model = entry("ChargingStation", "Model", "W1", mutability="ReadOnly", dataType="string")
    assert await station.result("NotifyReport", part(11, 2, False, model)) == {}
    report = await Report.objects.aget(request_id=11)
    assert (report.status, report.missing_parts) == (Report.Status.RECEIVING, [0, 1])
    assert await station.result("NotifyReport", part(11, 0, True, hb)) == {}
    assert await station.result("NotifyReport", part(11, 0, True, hb)) == {}  # resent
    report = await Report.objects.aget(request_id=11)
    assert report.missing_parts == [1] and report.entries == 2  # not three
    assert await station.result("NotifyReport", part(11, 1, True, auth)) == {}
    report = await Report.objects.aget(request_id=11)
    assert report.status == Report.Status.COMPLETE and report.completed_at is not None
    assert report.parts == [0, 1, 2] and report.entries == 3
    assert await Variable.objects.filter(component__station_id="CP_1").acount() == 3


async def test_b07_a_complete_full_inventory_replaces_what_it_did_not_list(station, operator):
    await ask_full_report(operator, station, 21)
    await station.result(
        "NotifyReport",
        part(
            21,
            0,
            False,
            entry("OCPPCommCtrlr", "HeartbeatInterval", "300"),
            entry("OldCtrlr", "Gone", "1"),
        ),
    )
    await ask_full_report(operator, station, 22)
    await station.result(
        "NotifyReport", part(22, 0, True, entry("OCPPCommCtrlr", "HeartbeatInterval", "60"))
    )
    # Incomplete: nothing is removed yet.
    assert await Variable.objects.filter(name="Gone").aexists()
    await station.result(
        "NotifyReport",
        part(22, 1, False, entry("EVSE", "Power", "11000", evse=1)),
    )
    assert not await Variable.objects.filter(name="Gone").aexists()
    names = {v async for v in Variable.objects.values_list("component__name", "name")}
    assert names == {("OCPPCommCtrlr", "HeartbeatInterval"), ("EVSE", "Power")}
    value = await VariableAttribute.objects.aget(variable__name="HeartbeatInterval")
    assert value.value == "60"


async def test_b07_parts_before_the_answer_complete_it_when_it_arrives(station, operator):
    """The parts may be stored before the answer of the process that sent the command."""
    await station.result(
        "NotifyReport", part(31, 0, False, entry("OCPPCommCtrlr", "HeartbeatInterval", "300"))
    )
    report = await Report.objects.aget(request_id=31)
    assert report.status == Report.Status.COMPLETE and report.kind == ""
    await ask_full_report(operator, station, 31)
    report = await Report.objects.aget(request_id=31)
    assert (report.kind, report.status) == ("FullInventory", Report.Status.COMPLETE)


async def test_b07_a_rejected_request_is_stored_as_such(station, operator):
    await ask_full_report(operator, station, 41, status="NotSupported")
    report = await Report.objects.aget(request_id=41)
    assert report.status == Report.Status.NOT_SUPPORTED


async def test_the_rest_lists_show_variables_reports_and_changes(station, operator):
    await ask_full_report(operator, station, 51)
    await station.result(
        "NotifyReport",
        part(
            51,
            0,
            True,
            entry("OCPPCommCtrlr", "HeartbeatInterval", "300", dataType="integer", maxLimit=3600),
            entry("SecurityCtrlr", "BasicAuthPassword", None, mutability="WriteOnly"),
        ),
    )
    response = await operator.get("/api/stations/CP_1/variables/?q=heartbeat")
    assert response.status_code == 200
    [variable] = response.json()["results"]
    assert variable["address"] == "OCPPCommCtrlr.HeartbeatInterval"
    assert variable["max_limit"] == 3600 and variable["attributes"][0]["value"] == "300"
    secret = (await operator.get("/api/stations/CP_1/variables/?mutability=WriteOnly")).json()
    assert [v["attributes"][0]["value"] for v in secret["results"]] == [None]
    reports = (await operator.get("/api/stations/CP_1/reports/")).json()["results"]
    assert reports[0]["status"] == "Receiving" and reports[0]["missing_parts"] == []
    assert (await operator.get("/api/stations/NOPE/variables/")).status_code == 404

    # A value above the reported maximum is refused before it is sent.
    response = await operator.post(
        "/api/stations/CP_1/commands/SetVariables/",
        {
            "setVariableData": [
                {
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                    "attributeValue": "7200",
                }
            ]
        },
        content_type="application/json",
    )
    assert response.status_code == 400 and "at most 3600" in response.json()["message"]
    request = asyncio.create_task(
        operator.post(
            "/api/stations/CP_1/commands/SetVariables/",
            {
                "setVariableData": [
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                        "attributeValue": "600",
                    }
                ]
            },
            content_type="application/json",
        )
    )
    call = await station.receive()
    await station.send(
        [
            3,
            call[1],
            {
                "setVariableResult": [
                    {
                        "attributeStatus": "Rejected",
                        "attributeStatusInfo": {
                            "reasonCode": "OutOfRange",
                            "additionalInfo": "max 500",
                        },
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        ]
    )
    assert (await request).status_code == 200
    history = (await operator.get("/api/variable-changes/?station=CP_1")).json()["results"]
    assert [(h["value"], h["status"], h["status_info"], h["requested_by"]) for h in history] == [
        ("600", "Rejected", "OutOfRange: max 500", "operator")
    ]
    value = await VariableAttribute.objects.aget(variable__name="HeartbeatInterval")
    assert value.value == "300"  # rejected: unchanged

    drivers = await make_user("driver")
    assert (await drivers.get("/api/stations/CP_1/variables/")).status_code == 403
    assert (await AsyncClient().get("/api/variable-changes/")).status_code == 401


async def test_the_configuration_page_lists_searches_and_edits(station, operator, transactional_db):
    from django.contrib.auth import get_user_model

    await ask_full_report(operator, station, 61)
    await station.result(
        "NotifyReport",
        part(
            61,
            0,
            False,
            entry("OCPPCommCtrlr", "HeartbeatInterval", "300", dataType="integer", unit="s"),
            entry("ChargingStation", "Model", "<b>W1</b>", mutability="ReadOnly"),
        ),
    )
    await get_user_model().objects.acreate_user("op", password="pw", is_staff=True)
    browser = AsyncClient()
    await browser.alogin(username="op", password="pw")
    page = (await browser.get("/stations/CP_1/configuration/")).content.decode()
    assert 'data-variable="OCPPCommCtrlr.HeartbeatInterval"' in page
    assert (
        "&lt;b&gt;W1&lt;/b&gt;" in page and "<b>W1</b>" not in page
    )  # the station's text, escaped
    assert page.count('data-action="set-variables"') == 1  # the read-only Model has no form
    found = (await browser.get("/stations/CP_1/configuration/?q=model")).content.decode()
    assert "ChargingStation" in found and "HeartbeatInterval" not in found

    # The row's form, as posted: the SetVariables goes out, its answer comes back to the page.
    request = asyncio.create_task(
        browser.post(
            "/stations/CP_1/actions/set-variables/",
            {
                "variable": "OCPPCommCtrlr.HeartbeatInterval",
                "attribute_type": "Actual",
                "value": "120",
            },
            headers={"Accept": "application/json"},
        )
    )
    call = await station.receive()
    assert call[2:] == [
        "SetVariables",
        {
            "setVariableData": [
                {
                    "attributeValue": "120",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
    ]
    await station.send(
        [
            3,
            call[1],
            {
                "setVariableResult": [
                    {
                        "attributeStatus": "Accepted",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        ]
    )
    answer = (await request).json()
    assert answer["ok"] is True
    change = await VariableChange.objects.select_related("requested_by").aget()
    assert (change.value, change.status, change.source) == ("120", "Accepted", "dashboard")
    page = (await browser.get("/stations/CP_1/configuration/")).content.decode()
    assert "<code>120</code>" in page


# --- units ----------------------------------------------------------------------------------------


def test_the_notation_reads_components_instances_evses_and_connectors():
    assert Address.parse("DeviceDataCtrlr.ItemsPerMessage[GetVariables]") == Address(
        ComponentRef("DeviceDataCtrlr"), VariableRef("ItemsPerMessage", "GetVariables")
    )
    address = Address.parse("Connector[main]@1:2.ConnectorType")
    assert address.component == ComponentRef("Connector", "main", 1, 2)
    assert str(address) == "Connector[main]@1:2.ConnectorType"
    assert address.component.wire() == {
        "name": "Connector",
        "instance": "main",
        "evse": {"id": 1, "connectorId": 2},
    }
    for wrong in ("HeartbeatInterval", "a.b.c", "A@x.B", ""):
        with pytest.raises(InputError):
            Address.parse(wrong)


def test_values_are_checked_against_each_data_type():
    def problem(value: str, **characteristics: Any) -> str | None:
        return changes.value_problem(Variable(**characteristics), value)

    assert problem("5", data_type="integer", min_limit=1, max_limit=10) is None
    assert problem("0", data_type="integer", min_limit=1) == "must be at least 1"
    assert problem("1.5", data_type="integer") == "must be an integer"
    assert problem("1.5", data_type="decimal", max_limit=2) is None
    assert problem("yes", data_type="boolean") == "must be true or false"
    assert problem("2026-12-03T10:00:00Z", data_type="dateTime") is None
    assert problem("tomorrow", data_type="dateTime") is not None
    assert problem("B", data_type="OptionList", values_list="A,B") is None
    assert problem("C", data_type="OptionList", values_list="A,B") == "must be one of A, B"
    assert problem("A,B", data_type="MemberList", values_list="A,B,C") is None
    assert problem("A,A", data_type="MemberList", values_list="A,B") == "lists a member twice"
    assert problem("B,A,B", data_type="SequenceList", values_list="A,B") is None
    assert problem("abcdef", data_type="string", max_limit=5) == "must be at most 5 characters"


def test_requests_are_split_by_items_and_by_bytes():
    items = [{"n": i} for i in range(5)]
    by_items = changes.split("GetVariables", "getVariableData", items, max_items=4, max_bytes=None)
    assert [len(p["getVariableData"]) for p in by_items] == [4, 1]
    frame = changes.FRAME_OVERHEAD + len("GetVariables") + len('{"getVariableData":[]}')
    by_bytes = changes.split(
        "GetVariables", "getVariableData", items, max_items=None, max_bytes=frame + 2 * 8
    )
    assert [len(p["getVariableData"]) for p in by_bytes] == [2, 2, 1]
    assert changes.split("X", "k", items, max_items=None, max_bytes=None) == [{"k": items}]
    with pytest.raises(InputError):
        changes.split("X", "k", [{"big": "x" * 100}], max_items=None, max_bytes=50)


def test_b05_fr_13_an_attribute_is_set_once_per_request(db):
    setting = changes.Setting(Address.parse("A.B"), "1")
    with pytest.raises(InputError, match="set twice"):
        changes.check("CP_X", [setting, changes.Setting(Address.parse("A.B"), "2")])


async def test_b02_fr_01_a_pending_station_is_provisioned_before_it_is_accepted(
    make_station, operator
):
    """B02.FR.01 / B02.FR.09: a station answered Pending may be read (GetBaseReport, whose
    NotifyReport parts are let through) and configured (SetVariables); what it sends unasked
    still gets SecurityError until it is accepted."""
    from stations.models import RegistrationStatus

    await make_station("CP_1", registration=RegistrationStatus.PENDING)
    station, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    try:
        assert (await station.boot())["status"] == "Pending"
        unasked = await station.call("NotifyReport", part(90, 0, False))
        assert unasked[0] == 4 and unasked[2] == "SecurityError"
        await ask_full_report(operator, station, 91)
        first = await station.result(
            "NotifyReport", part(91, 0, True, entry("OCPPCommCtrlr", "HeartbeatInterval", "300"))
        )
        last = await station.result(
            "NotifyReport", part(91, 1, False, entry("AuthCtrlr", "Enabled", "true"))
        )
        assert first == last == {}
        assert (await Report.objects.aget(request_id=91)).status == Report.Status.COMPLETE
        after = await station.call("NotifyReport", part(91, 2, False))  # the report is over
        assert after[0] == 4 and after[2] == "SecurityError"
        request = asyncio.create_task(
            operator.post(
                "/api/stations/CP_1/commands/SetVariables/",
                {
                    "setVariableData": [
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                            "attributeValue": "60",
                        }
                    ]
                },
                content_type="application/json",
            )
        )
        call = await station.receive()
        assert call[2] == "SetVariables"
        await station.send(
            [
                3,
                call[1],
                {
                    "setVariableResult": [
                        {
                            "attributeStatus": "Accepted",
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        }
                    ]
                },
            ]
        )
        assert (await request).status_code == 200
        value = await VariableAttribute.objects.aget(variable__name="HeartbeatInterval")
        assert value.value == "60"
    finally:
        await station.close()
