"""What each message does to the database, for both versions, and that retries never double it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from devicemodel.models import VariableAttribute
from monitoring.models import SecurityEvent, StationNotice
from reservations.models import Reservation
from stations import recorders
from stations.models import (
    Connector,
    IdToken,
    MessageLog,
    MeterSample,
    Station,
    StationEvent,
    Transaction,
)
from tests.ocpp_client import OcppTestClient, status_payload

pytestmark = pytest.mark.django_db(transaction=True)

T0 = "2026-01-18T12:00:00Z"


async def test_boot_stores_what_the_station_is(booted, version):
    station = await Station.objects.aget(pk="CP_1")
    assert (station.vendor, station.model) == ("RalphCo", "Wallbox XYZ")
    assert station.boot_status == "Accepted" and station.last_boot_at is not None
    assert station.protocol == version and station.connected


async def test_heartbeat_is_answered_and_recorded_in_batches(booted):
    answer = await booted.heartbeat()
    assert answer["currentTime"].endswith("Z")
    await recorders.flush_all()
    station = await Station.objects.aget(pk="CP_1")
    assert station.last_heartbeat_at is not None and station.last_seen_at is not None


async def test_status_notifications_store_each_connector(booted, version):
    for connector, status in [(1, "Available"), (2, "Faulted"), (1, "Reserved")]:
        assert (
            await booted.result("StatusNotification", status_payload(version, connector, status))
            == {}
        )
    statuses = {c.evse_id: c.status async for c in Connector.objects.filter(station_id="CP_1")}
    assert statuses == {1: "Reserved", 2: "Faulted"}


async def test_16_connector_zero_is_the_station_itself(make_station):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "1.6")
    await client.boot()
    payload = {"connectorId": 0, "errorCode": "OtherError", "status": "Unavailable"}
    assert await client.result("StatusNotification", payload) == {}
    station = await Station.objects.aget(pk="CP_1")
    assert (station.status, station.error_code) == ("Unavailable", "OtherError")
    assert not await Connector.objects.filter(station_id="CP_1").aexists()
    await client.close()


def authorize_payload(version: str, token: str) -> dict:
    if version == "1.6":
        return {"idTag": token}
    return {"idToken": {"idToken": token, "type": "ISO14443"}}


def auth_status(version: str, answer: dict) -> str:
    return answer["idTagInfo" if version == "1.6" else "idTokenInfo"]["status"]


async def test_authorize_answers_from_the_id_tokens(booted, version):
    group = await IdToken.objects.acreate(token="GROUP1", type="Central")
    await IdToken.objects.acreate(token="GOOD", parent=group)
    await IdToken.objects.acreate(token="BLOCKED", status="Blocked")
    await IdToken.objects.acreate(token="OLD", expires_at=timezone.now() - timedelta(days=1))
    expected = {"GOOD": "Accepted", "BLOCKED": "Blocked", "OLD": "Expired", "STRANGER": "Invalid"}
    for token, status in expected.items():
        answer = await booted.result("Authorize", authorize_payload(version, token))
        assert auth_status(version, answer) == status, token
    good = await booted.result("Authorize", authorize_payload(version, "GOOD"))
    if version == "1.6":
        assert good["idTagInfo"]["parentIdTag"] == "GROUP1"
    else:
        assert good["idTokenInfo"]["groupIdToken"] == {"idToken": "GROUP1", "type": "Central"}


@override_settings(OCPP_ACCEPT_UNKNOWN_ID_TOKENS=True)
async def test_unknown_tokens_are_accepted_when_the_setting_says_so(booted, version):
    answer = await booted.result("Authorize", authorize_payload(version, "STRANGER"))
    assert auth_status(version, answer) == "Accepted"


def meter_value_16(timestamp: str, wh: float, extra: int = 0) -> dict:
    sampled = [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]
    sampled += [
        {"value": str(230 + i), "measurand": "Voltage", "phase": f"L{i + 1}", "unit": "V"}
        for i in range(extra)
    ]
    return {"timestamp": timestamp, "sampledValue": sampled}


def meter_value_201(timestamp: str, kwh: float) -> dict:
    return {
        "timestamp": timestamp,
        "sampledValue": [
            {
                "value": kwh,
                "measurand": "Energy.Active.Import.Register",
                "unitOfMeasure": {"unit": "kWh"},
                "context": "Sample.Periodic",
            },
            {"value": 7400, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
        ],
    }


async def test_a_16_transaction_with_meter_values_is_stored_completely(make_station):
    await make_station("CP_1")
    await IdToken.objects.acreate(token="TAG1")
    client, _, _ = await OcppTestClient.open("CP_1", "1.6")
    await client.boot()
    start = await client.result(
        "StartTransaction", {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": T0}
    )
    assert start["idTagInfo"]["status"] == "Accepted"
    tx_id = start["transactionId"]
    assert isinstance(tx_id, int)
    for minute, wh in [(1, 1500), (2, 2250)]:
        payload = {
            "connectorId": 1,
            "transactionId": tx_id,
            "meterValue": [meter_value_16(f"2026-01-18T12:0{minute}:00Z", wh, extra=3)],
        }
        assert await client.result("MeterValues", payload) == {}
    tx = await Transaction.objects.aget(pk=tx_id)
    assert tx.is_active and tx.energy_wh == 1250
    stop = await client.result(
        "StopTransaction",
        {
            "transactionId": tx_id,
            "meterStop": 3000,
            "timestamp": "2026-01-18T12:03:00Z",
            "idTag": "TAG1",
            "reason": "EVDisconnected",
            "transactionData": [meter_value_16("2026-01-18T12:03:00Z", 3000)],
        },
    )
    assert stop["idTagInfo"]["status"] == "Accepted"
    tx = await Transaction.objects.aget(pk=tx_id)
    assert not tx.is_active and tx.energy_wh == 2000 and tx.stop_reason == "EVDisconnected"
    assert tx.meter_stop_wh == 3000 and tx.id_token == "TAG1"
    samples = [s async for s in MeterSample.objects.filter(transaction_id=tx_id)]
    assert len(samples) == 2 * 4 + 1
    voltage = next(s for s in samples if s.measurand == "Voltage" and s.phase == "L2")
    assert (voltage.value, voltage.unit, voltage.context, voltage.location) == (
        231,
        "V",
        "Sample.Periodic",
        "Outlet",
    )
    await client.close()


async def test_a_201_transaction_with_meter_values_is_stored_completely(make_station):
    await make_station("CP_1")
    await IdToken.objects.acreate(token="TAG1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    events = [
        ("Started", "Authorized", 0, 10.0, {"chargingState": "Charging"}),
        ("Updated", "MeterValuePeriodic", 1, 11.5, {"chargingState": "Charging"}),
        ("Ended", "EVCommunicationLost", 2, 12.25, {"stoppedReason": "EVDisconnected"}),
    ]
    for event_type, trigger, seq_no, kwh, info in events:
        answer = await client.result(
            "TransactionEvent",
            {
                "eventType": event_type,
                "timestamp": f"2026-01-18T12:0{seq_no}:00Z",
                "triggerReason": trigger,
                "seqNo": seq_no,
                "transactionInfo": {"transactionId": "TX-A", **info},
                "idToken": {"idToken": "TAG1", "type": "ISO14443"},
                "evse": {"id": 1, "connectorId": 1},
                "meterValue": [meter_value_201(f"2026-01-18T12:0{seq_no}:00Z", kwh)],
            },
        )
        assert answer["idTokenInfo"]["status"] == "Accepted"
    tx = await Transaction.objects.aget(station_id="CP_1", ocpp_id="TX-A")
    assert not tx.is_active and tx.stop_reason == "EVDisconnected"
    assert tx.meter_start_wh == 10000 and tx.meter_stop_wh == 12250 and tx.energy_wh == 2250
    assert (tx.evse_id, tx.id_token, tx.last_seq_no) == (1, "TAG1", 2)
    assert await MeterSample.objects.filter(transaction=tx).acount() == 6
    power = await MeterSample.objects.filter(
        transaction=tx, measurand="Power.Active.Import"
    ).afirst()
    assert power is not None and (power.value, power.unit) == (7400, "W")
    await client.close()


async def test_a_16_start_with_an_unknown_tag_is_answered_invalid_and_still_stored(make_station):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "1.6")
    await client.boot()
    start = await client.result(
        "StartTransaction",
        {"connectorId": 1, "idTag": "STRANGER", "meterStart": 0, "timestamp": T0},
    )
    assert start["idTagInfo"]["status"] == "Invalid"
    tx = await Transaction.objects.aget(pk=start["transactionId"])
    assert tx.authorization_status == "Invalid" and tx.id_token == "STRANGER"
    await client.close()


async def test_resent_16_transaction_messages_are_applied_once(make_station):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "1.6")
    await client.boot()
    start = {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": T0}
    first = await client.result("StartTransaction", start)
    again = await client.result("StartTransaction", start)
    assert first["transactionId"] == again["transactionId"]
    assert await Transaction.objects.acount() == 1
    tx_id = first["transactionId"]
    meter = {"connectorId": 1, "transactionId": tx_id, "meterValue": [meter_value_16(T0, 500, 3)]}
    await client.result("MeterValues", meter)
    await client.result("MeterValues", meter)
    assert await MeterSample.objects.acount() == 4
    stop = {"transactionId": tx_id, "meterStop": 900, "timestamp": "2026-01-18T13:00:00Z"}
    await client.result("StopTransaction", stop)
    await client.result("StopTransaction", {**stop, "meterStop": 99999})
    tx = await Transaction.objects.aget(pk=tx_id)
    assert tx.meter_stop_wh == 900 and tx.energy_wh == 900
    await client.close()


async def test_a_resent_201_transaction_event_is_applied_once(make_station):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    event = {
        "eventType": "Updated",
        "timestamp": T0,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 5,
        "transactionInfo": {"transactionId": "TX-B"},
        "evse": {"id": 1},
        "meterValue": [meter_value_201(T0, 3.0)],
    }
    await client.result("TransactionEvent", event)
    await client.result("TransactionEvent", event)
    tx = await Transaction.objects.aget(ocpp_id="TX-B")
    assert await tx.events.acount() == 1
    assert await MeterSample.objects.filter(transaction=tx).acount() == 2
    # It began with an Updated: stored, and flagged for the operator.
    assert await StationEvent.objects.filter(type="TransactionWithoutStart").aexists()
    await client.close()


async def test_201_transaction_ids_are_per_station(make_station):
    await make_station("CP_1")
    await make_station("CP_2")
    event = {
        "eventType": "Started",
        "timestamp": T0,
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "SAME-ID"},
        "evse": {"id": 1},
    }
    for identity in ("CP_1", "CP_2"):
        client, _, _ = await OcppTestClient.open(identity, "2.0.1")
        await client.boot()
        await client.result("TransactionEvent", event)
        await client.close()
    assert await Transaction.objects.filter(ocpp_id="SAME-ID").acount() == 2


async def test_a_station_cannot_touch_another_stations_transaction(make_station):
    await make_station("CP_1")
    await make_station("CP_2")
    owner, _, _ = await OcppTestClient.open("CP_1", "1.6")
    await owner.boot()
    start = {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": T0}
    tx_id = (await owner.result("StartTransaction", start))["transactionId"]
    await owner.close()

    intruder, _, _ = await OcppTestClient.open("CP_2", "1.6")
    await intruder.boot()
    meter = {"connectorId": 1, "transactionId": tx_id, "meterValue": [meter_value_16(T0, 5)]}
    assert await intruder.result("MeterValues", meter) == {}
    stop = {"transactionId": tx_id, "meterStop": 5000, "timestamp": T0}
    assert await intruder.result("StopTransaction", stop) == {}
    await intruder.close()

    tx = await Transaction.objects.aget(pk=tx_id)
    assert tx.is_active and tx.energy_wh == 0 and tx.meter_stop_wh is None
    assert not await MeterSample.objects.filter(transaction_id=tx_id).aexists()
    kinds = {e.type async for e in StationEvent.objects.filter(station_id="CP_2", kind="anomaly")}
    assert kinds == {"UnknownTransactionStop", "UnknownTransactionMeterValues"}


async def test_a_reservation_is_used_when_a_transaction_starts_on_it(make_station, version):
    station = await make_station("CP_1")
    reservation = await Reservation.objects.acreate(
        station=station,
        evse_id=1,
        id_token="TAG1",
        expires_at=timezone.now() + timedelta(hours=1),
        status="accepted",
    )
    client, _, _ = await OcppTestClient.open("CP_1", version)
    await client.boot()
    if version == "1.6":
        start = {
            "connectorId": 1,
            "idTag": "TAG1",
            "meterStart": 0,
            "timestamp": T0,
            "reservationId": reservation.pk,
        }
        await client.result("StartTransaction", start)
    else:
        event = {
            "eventType": "Started",
            "timestamp": T0,
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "R-1"},
            "evse": {"id": 1},
            "reservationId": reservation.pk,
        }
        await client.result("TransactionEvent", event)
    await reservation.arefresh_from_db()
    assert reservation.status == "used" and reservation.transaction_id is not None
    await client.close()


async def test_201_reservation_status_update_expires_the_reservation(make_station):
    station = await make_station("CP_1")
    reservation = await Reservation.objects.acreate(
        station=station, evse_id=1, id_token="T", expires_at=timezone.now(), status="accepted"
    )
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    payload = {"reservationId": reservation.pk, "reservationUpdateStatus": "Expired"}
    assert await client.result("ReservationStatusUpdate", payload) == {}
    await reservation.arefresh_from_db()
    assert reservation.status == "expired"
    await client.close()


async def test_data_transfer_is_recorded_and_answered_unknown_vendor(booted, version):
    payload = {"vendorId": "com.example", "messageId": "hello", "data": "<b>payload</b>"}
    assert (await booted.result("DataTransfer", payload))["status"] == "UnknownVendorId"
    event = await StationEvent.objects.aget(station_id="CP_1", type="DataTransfer")
    assert event.data["data"] == "<b>payload</b>"


@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [
        ("1.6", "DiagnosticsStatusNotification", {"status": "Uploaded"}),
        ("1.6", "FirmwareStatusNotification", {"status": "Installed"}),
        ("2.0.1", "FirmwareStatusNotification", {"status": "Installed", "requestId": 1}),
        ("2.0.1", "LogStatusNotification", {"status": "Uploaded", "requestId": 2}),
        ("1.6", "LogStatusNotification", {"status": "Uploading", "requestId": 3}),
        ("1.6", "SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": T0}),
        (
            "2.0.1",
            "SecurityEventNotification",
            {"type": "TamperDetectionActivated", "timestamp": T0},
        ),
        (
            "2.0.1",
            "NotifyEvent",
            {
                "generatedAt": T0,
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": T0,
                        "trigger": "Alerting",
                        "actualValue": "Faulted",
                        "eventNotificationType": "HardWiredNotification",
                        "component": {"name": "Connector"},
                        "variable": {"name": "Problem"},
                    }
                ],
            },
        ),
        (
            "2.0.1",
            "NotifyReport",
            {
                "requestId": 1,
                "generatedAt": T0,
                "seqNo": 0,
                "reportData": [
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                        "variableAttribute": [{"value": "300"}],
                    }
                ],
            },
        ),
        ("2.0.1", "MeterValues", {"evseId": 1, "meterValue": [meter_value_201(T0, 1.0)]}),
    ],
)
async def test_station_notifications_are_answered_and_recorded(
    make_station, version, action, payload
):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", version)
    await client.boot()
    assert await client.result(action, payload) == {}
    if action == "MeterValues":
        assert await MeterSample.objects.filter(station_id="CP_1", transaction=None).acount() == 2
    elif action == "NotifyEvent":  # into monitoring (tests/test_monitoring.py)
        assert await StationNotice.objects.filter(station_id="CP_1").aexists()
    elif action == "NotifyReport":  # into the device model (tests/test_device_model.py)
        attribute = await VariableAttribute.objects.aget(
            variable__component__station_id="CP_1", variable__name="HeartbeatInterval"
        )
        assert attribute.value == "300"
    elif action == "SecurityEventNotification":  # the security log (test_security_events.py)
        assert await SecurityEvent.objects.filter(station_id="CP_1").aexists()
    else:  # about a log request or firmware update the CSMS never sent: kept as an event
        assert await StationEvent.objects.filter(station_id="CP_1").aexists()
    await client.close()


async def test_every_frame_in_and_out_is_in_the_message_log(booted, version):
    await booted.heartbeat()
    await booted.send("garbage")
    await booted.receive()
    await recorders.flush_all()
    entries = [e async for e in MessageLog.objects.filter(station_id="CP_1").order_by("id")]
    summary = [(e.direction, e.message_type, e.action) for e in entries]
    assert summary == [
        ("in", 2, "BootNotification"),
        ("out", 3, "BootNotification"),
        ("in", 2, "Heartbeat"),
        ("out", 3, "Heartbeat"),
        ("in", 0, ""),
        ("out", 4, ""),
    ]
    assert entries[4].frame == "garbage"
    assert entries[1].unique_id == entries[0].unique_id


def tx_event(event_type: str, seq_no: int, kwh: float | None, **info) -> dict:
    timestamp = f"2026-01-18T12:{seq_no:02d}:00Z"
    event: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": timestamp,
        "triggerReason": {"Started": "Authorized", "Ended": "StopAuthorized"}.get(
            event_type, "MeterValuePeriodic"
        ),
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": "TX-L", **info},
        "evse": {"id": 1, "connectorId": 1},
    }
    if kwh is not None:
        event["meterValue"] = [meter_value_201(timestamp, kwh)]
    return event


async def test_an_event_after_ended_is_stored_but_never_changes_the_closed_energy(make_station):
    """Issue 13.13: a late TransactionEvent(Updated) with a higher reading after Ended is kept
    (event row, samples, an anomaly), but the closed transaction's energy stays stop - start."""
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    await client.result("TransactionEvent", tx_event("Started", 0, 10.0))
    await client.result("TransactionEvent", tx_event("Updated", 1, 10.05))
    await client.result("TransactionEvent", tx_event("Ended", 2, 10.07542))
    await client.result("TransactionEvent", tx_event("Updated", 3, 10.1814))
    tx = await Transaction.objects.aget(ocpp_id="TX-L")
    assert not tx.is_active
    assert tx.meter_stop_wh == pytest.approx(10075.42)
    assert tx.meter_start_wh is not None and tx.meter_stop_wh is not None
    assert tx.energy_wh == pytest.approx(tx.meter_stop_wh - tx.meter_start_wh)
    assert await tx.events.acount() == 4  # the late event is recorded as what it is
    assert await MeterSample.objects.filter(transaction=tx, value=10.1814).aexists()
    assert await StationEvent.objects.filter(type="EventAfterEnded").aexists()
    await client.close()


async def test_an_ended_event_without_a_reading_closes_with_the_last_reading(make_station):
    """A closed transaction always has energy == stop - start, also when Ended carried no meter
    value: the stop is the highest reading seen."""
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    await client.result("TransactionEvent", tx_event("Started", 0, 10.0))
    await client.result("TransactionEvent", tx_event("Updated", 1, 11.5))
    await client.result("TransactionEvent", tx_event("Ended", 2, None))
    tx = await Transaction.objects.aget(ocpp_id="TX-L")
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (10000, 11500, 1500)
    await client.close()


async def test_a_remote_start_without_id_token_keeps_the_requested_token(make_station):
    """Issue 13.14 (F01/E02): the station may leave idToken out of the TransactionEvent(Started)
    that follows a RequestStartTransaction; the CSMS takes it from its own request, matched by
    remoteStartId."""
    import asyncio

    from stations.remote.delivery import send_command

    await make_station("CP_1")
    await IdToken.objects.acreate(token="DRIVER7")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    request = {"idToken": {"idToken": "DRIVER7", "type": "ISO14443"}, "remoteStartId": 4242}
    pending = asyncio.create_task(send_command("CP_1", "RequestStartTransaction", request))
    call = await client.receive()
    assert call[2] == "RequestStartTransaction"
    await client.send([3, call[1], {"status": "Accepted"}])
    answer = await client.result(
        "TransactionEvent",
        {**tx_event("Started", 0, 1.0, remoteStartId=4242), "triggerReason": "RemoteStart"},
    )
    await pending
    assert "idTokenInfo" not in answer  # no idToken in the request, none in the answer
    tx = await Transaction.objects.aget(ocpp_id="TX-L")
    assert (tx.id_token, tx.id_token_type, tx.remote_start_id) == ("DRIVER7", "ISO14443", 4242)
    assert tx.authorization_status == "Accepted"
    await client.close()


async def test_a_remote_start_token_is_found_after_a_reconnect(make_station):
    """The socket that sent the request is gone: the recorded command still names the token."""
    import asyncio

    from stations.remote.delivery import send_command

    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    request = {"idToken": {"idToken": "DRIVER8", "type": "Central"}, "remoteStartId": 77}
    pending = asyncio.create_task(send_command("CP_1", "RequestStartTransaction", request))
    call = await client.receive()
    await client.send([3, call[1], {"status": "Accepted"}])
    await pending
    await client.close()
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.result("TransactionEvent", tx_event("Started", 0, 1.0, remoteStartId=77))
    tx = await Transaction.objects.aget(ocpp_id="TX-L")
    assert (tx.id_token, tx.id_token_type) == ("DRIVER8", "Central")
    await client.close()
