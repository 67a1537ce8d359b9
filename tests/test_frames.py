"""Every malformed frame gets the specification's answer for the negotiated version, or a documented
silence, and the connection lives on. Silence is proven without sleeping: frames are answered in
order, so when the next answer belongs to a later Heartbeat, the bad frame got none."""

from __future__ import annotations

import json

import pytest
from django.db import DatabaseError
from django.test import override_settings

from tests.ocpp_client import OcppTestClient

pytestmark = pytest.mark.django_db(transaction=True)


def code(version: str, name_201: str) -> str:
    spelled_16 = {
        "FormatViolation": "FormationViolation",
        "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
        "RpcFrameworkError": "FormationViolation",
    }
    return spelled_16.get(name_201, name_201) if version == "1.6" else name_201


async def assert_alive(client: OcppTestClient) -> None:
    answer = await client.call("Heartbeat", {}, unique_id="alive")
    assert answer[0] == 3 and "currentTime" in answer[2], answer


FRAME_FAULTS = [
    # (name, raw frame, expected id, expected 2.0.1 code)
    ("not-json", "[2, 'x', ", "-1", "RpcFrameworkError"),
    ("not-an-array", '{"a": 1}', "-1", "RpcFrameworkError"),
    ("empty-array", "[]", "-1", "RpcFrameworkError"),
    ("type-not-a-number", '["2", "a", "Heartbeat", {}]', "-1", "RpcFrameworkError"),
    ("id-not-a-string", '[2, 17, "Heartbeat", {}]', "-1", "RpcFrameworkError"),
    ("id-empty", '[2, "", "Heartbeat", {}]', "-1", "RpcFrameworkError"),
    ("id-too-long", json.dumps([2, "x" * 37, "Heartbeat", {}]), "-1", "RpcFrameworkError"),
    ("three-elements", '[2, "a1", "Heartbeat"]', "a1", "RpcFrameworkError"),
    ("five-elements", '[2, "a2", "Heartbeat", {}, {}]', "a2", "RpcFrameworkError"),
    ("action-not-a-string", '[2, "a3", 7, {}]', "a3", "RpcFrameworkError"),
    ("payload-not-an-object", '[2, "a4", "Heartbeat", [1]]', "a4", "FormatViolation"),
    ("unknown-action", '[2, "a5", "MakeCoffee", {}]', "a5", "NotImplemented"),
    ("action-not-handled", '[2, "a6", "Reset", {"type": "Hard"}]', "a6", "NotSupported"),
]


@pytest.mark.parametrize(("name", "frame", "reply_id", "expected"), FRAME_FAULTS)
async def test_a_malformed_call_gets_the_versions_error_and_the_connection_lives(
    booted, version, name, frame, reply_id, expected
):
    await booted.send(frame)
    answer = await booted.receive()
    assert answer[0] == 4 and answer[1] == reply_id, answer
    assert answer[2] == code(version, expected), answer
    assert isinstance(answer[3], str) and isinstance(answer[4], dict)
    await assert_alive(booted)


async def test_an_unknown_message_type_is_ignored_in_16_and_refused_in_201(booted, version):
    await booted.send('[7, "t1", "Heartbeat", {}]')
    if version == "2.0.1":
        answer = await booted.receive()
        assert answer[:3] == [4, "t1", "MessageTypeNotSupported"]
    await assert_alive(booted)  # 1.6: the next answer is the Heartbeat's, so [7,...] got none


@pytest.mark.parametrize(
    "frame",
    [
        '[3, "nobody-asked", {}]',
        '[4, "nobody-asked", "GenericError", "", {}]',
        '[3, "broken"]',
        "[4, 5, 6]",
    ],
)
async def test_answers_to_unknown_calls_and_broken_answers_are_ignored(booted, frame):
    await booted.send(frame)
    await assert_alive(booted)


async def test_a_binary_frame_is_refused_with_id_minus_one(booted, version):
    await booted.send(b'[2, "b1", "Heartbeat", {}]')
    answer = await booted.receive()
    assert answer[:3] == [4, "-1", code(version, "RpcFrameworkError")]
    await assert_alive(booted)


@override_settings(OCPP_MAX_FRAME_BYTES=1000)
async def test_an_oversized_frame_closes_the_connection_with_1009(booted):
    await booted.send(json.dumps([2, "big", "DataTransfer", {"vendorId": "x", "data": "y" * 2000}]))
    closed = await booted.communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 1009


SCHEMA_FAULTS = {
    # name: (1.6 payload, 2.0.1 payload, expected 2.0.1 code)
    "missing-required-field": (
        {"connectorId": 1, "status": "Available"},
        {"timestamp": "2026-01-01T00:00:00Z", "evseId": 1, "connectorId": 1},
        "OccurrenceConstraintViolation",
    ),
    "wrong-type": (
        {"connectorId": "one", "errorCode": "NoError", "status": "Available"},
        {
            "timestamp": "2026-01-01T00:00:00Z",
            "connectorStatus": "Available",
            "evseId": "one",
            "connectorId": 1,
        },
        "TypeConstraintViolation",
    ),
    "value-outside-enumeration": (
        {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
        {
            "timestamp": "2026-01-01T00:00:00Z",
            "connectorStatus": "Sleeping",
            "evseId": 1,
            "connectorId": 1,
        },
        "PropertyConstraintViolation",
    ),
    "unknown-field": (
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "colour": "red"},
        {
            "timestamp": "2026-01-01T00:00:00Z",
            "connectorStatus": "Available",
            "evseId": 1,
            "connectorId": 1,
            "colour": "red",
        },
        "FormatViolation",
    ),
    "string-too-long": (
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "info": "i" * 51},
        {
            "timestamp": "not a time",
            "connectorStatus": "Available",
            "evseId": 1,
            "connectorId": 1,
        },
        "TypeConstraintViolation",
    ),
}


@pytest.mark.parametrize("fault", sorted(SCHEMA_FAULTS))
async def test_a_schema_violation_gets_the_code_of_the_broken_constraint(booted, version, fault):
    payload_16, payload_201, expected = SCHEMA_FAULTS[fault]
    answer = await booted.call(
        "StatusNotification", payload_16 if version == "1.6" else payload_201
    )
    assert answer[0] == 4 and answer[2] == code(version, expected), answer
    assert answer[3]  # says what is wrong
    await assert_alive(booted)


async def test_a_failing_database_answers_internal_error_and_the_station_can_retry(
    booted, version, monkeypatch
):
    from stations.services import status

    def broken(*args, **kwargs):
        raise DatabaseError("database is unavailable")

    monkeypatch.setattr(status._upsert_connector, "run", broken)
    payload = (
        {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        if version == "1.6"
        else {
            "timestamp": "2026-01-01T00:00:00Z",
            "connectorStatus": "Available",
            "evseId": 1,
            "connectorId": 1,
        }
    )
    answer = await booted.call("StatusNotification", payload)
    assert answer[0] == 4 and answer[2] == "InternalError"
    monkeypatch.undo()
    assert (await booted.call("StatusNotification", payload))[0] == 3
