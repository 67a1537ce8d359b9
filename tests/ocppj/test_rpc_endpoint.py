"""The RPC layer on its own (issue 14.6): `ocppj.RpcEndpoint` fed raw frames, asserting the exact
frames it writes, in the style of the `ocpp` library's tests. No Django, no Channels, no socket:
the endpoint's `send` is a list, and the owner's `receive` is a direct call.

Part 4 of OCPP 2.0.1 (§4 RPC framework) and OCPP-J 1.6 (§4) are the rules proven here: the
CALLERROR code for each fault, spelled per version; correlation of answers by message id; one CALL
outstanding at a time; timeouts.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
from ocpp.routing import after, on

from ocppj import CallErrorReceived, ErrorCode, OcppError, RpcEndpoint
from ocppj.errors import InvalidResponse

BOOT_16 = {"chargePointVendor": "V", "chargePointModel": "M"}
BOOT_201 = {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"}
NOW = "2026-01-18T12:00:00Z"


class Handler:
    """A peer's handlers, as the CSMS and the emulator write them."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.after_ran = asyncio.Event()
        self.gate: asyncio.Event | None = None

    @on("BootNotification")
    def on_boot(self, **payload: Any) -> dict[str, Any]:
        self.seen.append(("BootNotification", payload))
        return {"currentTime": NOW, "interval": 60, "status": "Accepted"}

    @after("BootNotification")
    async def after_boot(self, **payload: Any) -> None:
        self.after_ran.set()

    @on("Heartbeat")
    async def on_heartbeat(self, **payload: Any) -> dict[str, Any]:
        if self.gate is not None:
            await self.gate.wait()
        return {"currentTime": NOW}

    @on("Authorize")
    def on_authorize(self, **payload: Any) -> dict[str, Any]:
        raise RuntimeError("a bug in a handler")

    @on("StatusNotification")
    def on_status(self, **payload: Any) -> dict[str, Any]:
        return {"unexpected": True}  # breaks the response schema: our own fault


class Wire:
    """What the endpoint wrote, decoded."""

    def __init__(self) -> None:
        self.frames: list[list[Any]] = []
        self.written = asyncio.Event()

    async def send(self, text: str) -> None:
        self.frames.append(json.loads(text))
        self.written.set()

    async def next(self) -> list[Any]:
        while not self.frames:
            self.written.clear()
            await asyncio.wait_for(self.written.wait(), 2)
        return self.frames.pop(0)


def endpoint(version: str, **kwargs: Any) -> tuple[RpcEndpoint, Wire, Handler]:
    wire, handler = Wire(), Handler()
    rpc = RpcEndpoint(version=version, handler=handler, send=wire.send, **kwargs)
    return rpc, wire, handler


# --- answering CALLs --------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "boot"), [("1.6", BOOT_16), ("2.0.1", BOOT_201)])
async def test_a_call_gets_its_handlers_result_with_the_same_id(version, boot):
    rpc, wire, handler = endpoint(version)
    await rpc.receive(json.dumps([2, "m-1", "BootNotification", boot]))
    assert wire.frames == [[3, "m-1", {"currentTime": NOW, "interval": 60, "status": "Accepted"}]]
    # The handler got snake_case keyword arguments.
    key = "charge_point_vendor" if version == "1.6" else "charging_station"
    assert key in handler.seen[0][1]


async def test_the_after_hook_runs_once_the_result_is_sent():
    rpc, wire, handler = endpoint("1.6")
    await rpc.receive(json.dumps([2, "m-1", "BootNotification", BOOT_16]))
    await asyncio.wait_for(handler.after_ran.wait(), 2)
    assert wire.frames[0][0] == 3


def e(version: str, name_201: str) -> str:
    """The wire spelling of an error code in `version` (1.6 §4.2.3, 2.0.1 Part 4 §4.3)."""
    return ErrorCode(name_201).wire(version)


MALFORMED = [
    # (frame text, answered id, error code by its 2.0.1 name)
    ("not json", "-1", "RpcFrameworkError"),
    ('{"an": "object"}', "-1", "RpcFrameworkError"),
    ("[]", "-1", "RpcFrameworkError"),
    ('["2", "m", "Heartbeat", {}]', "-1", "RpcFrameworkError"),
    ('[2, 17, "Heartbeat", {}]', "-1", "RpcFrameworkError"),
    ('[2, "' + "x" * 37 + '", "Heartbeat", {}]', "-1", "RpcFrameworkError"),
    ('[2, "m-2", "Heartbeat"]', "m-2", "RpcFrameworkError"),
    ('[2, "m-2", 5, {}]', "m-2", "RpcFrameworkError"),
    ('[2, "m-2", "Heartbeat", []]', "m-2", "FormatViolation"),
]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@pytest.mark.parametrize(("text", "reply_id", "code"), MALFORMED)
async def test_a_malformed_frame_gets_the_versions_error_code(version, text, reply_id, code):
    rpc, wire, _ = endpoint(version)
    await rpc.receive(text)
    assert len(wire.frames) == 1
    frame = wire.frames[0]
    assert frame[:3] == [4, reply_id, e(version, code)]
    assert isinstance(frame[3], str) and frame[3] and frame[4] == {}
    assert len(frame[3]) <= 255  # 2.0.1 Part 4 §4.2.3: errorDescription is at most 255 chars


async def test_an_unknown_message_type_is_ignored_in_16_and_refused_in_201():
    rpc, wire, _ = endpoint("1.6")
    await rpc.receive('[5, "m-3", {}]')
    assert wire.frames == []
    rpc, wire, _ = endpoint("2.0.1")
    await rpc.receive('[5, "m-3", {}]')
    assert wire.frames[0][:3] == [4, "m-3", "MessageTypeNotSupported"]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_unknown_actions_are_not_implemented_and_unhandled_ones_not_supported(version):
    rpc, wire, _ = endpoint(version)
    await rpc.receive('[2, "a", "NoSuchAction", {}]')
    await rpc.receive('[2, "b", "DataTransfer", {"vendorId": "x"}]')
    assert [f[:3] for f in wire.frames] == [
        [4, "a", "NotImplemented"],
        [4, "b", "NotSupported"],
    ]


SCHEMA_FAULTS = [
    # 2.0.1 BootNotification payloads breaking one constraint each.
    ({"reason": "PowerUp"}, "OccurrenceConstraintViolation"),
    ({**BOOT_201, "reason": 7}, "TypeConstraintViolation"),
    ({**BOOT_201, "reason": "Bored"}, "PropertyConstraintViolation"),
    ({**BOOT_201, "extra": 1}, "FormatViolation"),
]


@pytest.mark.parametrize(("payload", "code"), SCHEMA_FAULTS)
async def test_a_schema_violation_names_the_broken_constraint(payload, code):
    rpc, wire, handler = endpoint("2.0.1")
    await rpc.receive(json.dumps([2, "s", "BootNotification", payload]))
    assert wire.frames[0][:3] == [4, "s", code]
    assert handler.seen == []  # the handler never saw it


async def test_a_16_occurrence_violation_uses_the_16_spelling():
    rpc, wire, _ = endpoint("1.6")
    await rpc.receive('[2, "s", "BootNotification", {"chargePointVendor": "V"}]')
    assert wire.frames[0][:3] == [4, "s", "OccurenceConstraintViolation"]


async def test_the_guard_refuses_before_validation_and_the_handler():
    def guard(action: str) -> None:
        if action != "BootNotification":
            raise OcppError(ErrorCode.SECURITY_ERROR, f"{action} before boot")

    rpc, wire, _ = endpoint("2.0.1", guard=guard)
    await rpc.receive('[2, "g", "Heartbeat", {}]')
    assert wire.frames == [[4, "g", "SecurityError", "Heartbeat before boot", {}]]


async def test_a_failing_handler_is_an_internal_error_and_the_endpoint_lives_on():
    rpc, wire, _ = endpoint("1.6")
    await rpc.receive('[2, "f", "Authorize", {"idTag": "T"}]')
    await rpc.receive('[2, "h", "Heartbeat", {}]')
    assert wire.frames[0][:3] == [4, "f", "InternalError"]
    assert wire.frames[1] == [3, "h", {"currentTime": NOW}]


async def test_an_invalid_answer_of_our_own_is_an_internal_error_not_sent():
    rpc, wire, _ = endpoint("1.6")
    await rpc.receive(
        '[2, "v", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", '
        '"status": "Available"}]'
    )
    assert wire.frames[0][:4] == [4, "v", "InternalError", "The CSMS produced an invalid response"]


async def test_answers_to_unknown_ids_and_malformed_answers_are_never_answered():
    rpc, wire, _ = endpoint("2.0.1")
    for text in ('[3, "nobody", {}]', '[4, "nobody", "GenericError", "", {}]', "[3]", '[4, "x"]'):
        await rpc.receive(text)
    assert wire.frames == []


async def test_calls_are_handled_one_at_a_time_in_order():
    """The task feeding `receive` handles each CALL to the end before reading the next, so a
    station's StartTransaction is committed before the MeterValues that follow it."""
    rpc, wire, handler = endpoint("2.0.1")
    handler.gate = asyncio.Event()
    first = asyncio.create_task(rpc.receive('[2, "one", "Heartbeat", {}]'))
    await asyncio.sleep(0)
    assert wire.frames == [] and not first.done()
    handler.gate.set()
    await first
    await rpc.receive('[2, "two", "Heartbeat", {}]')
    assert [f[1] for f in wire.frames] == ["one", "two"]


# --- our own CALLs ----------------------------------------------------------------------------


async def test_a_call_is_answered_by_the_result_with_its_id():
    rpc, wire, _ = endpoint("2.0.1")
    pending = asyncio.create_task(rpc.call("ClearCache", {}))
    sent = await wire.next()
    assert sent[0] == 2 and sent[2:] == ["ClearCache", {}]
    assert 0 < len(sent[1]) <= 36
    await rpc.receive(json.dumps([3, sent[1], {"status": "Accepted"}]))
    assert await pending == {"status": "Accepted"}


async def test_a_call_error_is_raised_with_the_peers_code_description_and_details():
    rpc, wire, _ = endpoint("2.0.1")
    pending = asyncio.create_task(rpc.call("ClearCache", {}))
    sent = await wire.next()
    await rpc.receive(json.dumps([4, sent[1], "GenericError", "busy", {"why": "x"}]))
    with pytest.raises(CallErrorReceived) as raised:
        await pending
    assert (raised.value.code, raised.value.description, raised.value.details) == (
        "GenericError",
        "busy",
        {"why": "x"},
    )


async def test_a_call_error_without_description_still_ends_the_call():
    rpc, wire, _ = endpoint("1.6")
    pending = asyncio.create_task(rpc.call("ClearCache", {}))
    sent = await wire.next()
    await rpc.receive(json.dumps([4, sent[1], "NotSupported"]))
    with pytest.raises(CallErrorReceived):
        await pending


async def test_an_answer_that_breaks_the_response_schema_is_invalid():
    rpc, wire, _ = endpoint("2.0.1")
    pending = asyncio.create_task(rpc.call("ClearCache", {}))
    sent = await wire.next()
    await rpc.receive(json.dumps([3, sent[1], {"status": "Perhaps"}]))
    with pytest.raises(InvalidResponse) as raised:
        await pending
    assert raised.value.payload == {"status": "Perhaps"}


async def test_an_invalid_request_of_ours_is_refused_and_nothing_is_sent():
    rpc, wire, _ = endpoint("2.0.1")
    with pytest.raises(OcppError) as raised:
        await rpc.call("Reset", {"type": "Gently"})
    assert raised.value.code == ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert wire.frames == []


async def test_a_call_without_answer_times_out_and_a_late_answer_is_ignored():
    rpc, wire, _ = endpoint("2.0.1")
    with pytest.raises(TimeoutError):
        await rpc.call("ClearCache", {}, timeout=0.05)
    sent = await wire.next()
    await rpc.receive(json.dumps([3, sent[1], {"status": "Accepted"}]))  # too late: ignored
    assert wire.frames == []
    # The next CALL goes out: the timed-out one no longer holds the line.
    pending = asyncio.create_task(rpc.call("ClearCache", {}))
    again = await wire.next()
    assert again[1] != sent[1]
    await rpc.receive(json.dumps([3, again[1], {"status": "Rejected"}]))
    assert await pending == {"status": "Rejected"}


async def test_only_one_call_is_outstanding_at_a_time():
    """2.0.1 Part 4 §4.1.1 / 1.6 §4.1.1: a second CALL waits until the first is answered."""
    rpc, wire, _ = endpoint("2.0.1")
    first = asyncio.create_task(rpc.call("ClearCache", {}))
    second = asyncio.create_task(rpc.call("ClearCache", {}))
    sent = await wire.next()
    for _ in range(5):
        await asyncio.sleep(0)
    assert wire.frames == []  # the second has not been sent
    await rpc.receive(json.dumps([3, sent[1], {"status": "Accepted"}]))
    assert await first == {"status": "Accepted"}
    following = await wire.next()
    await rpc.receive(json.dumps([3, following[1], {"status": "Rejected"}]))
    assert await second == {"status": "Rejected"}


async def test_the_peers_calls_are_answered_while_ours_waits():
    rpc, wire, _ = endpoint("1.6")
    pending = asyncio.create_task(rpc.call("ClearCache", {}))
    sent = await wire.next()
    await rpc.receive('[2, "hb", "Heartbeat", {}]')
    assert await wire.next() == [3, "hb", {"currentTime": NOW}]
    await rpc.receive(json.dumps([3, sent[1], {"status": "Accepted"}]))
    assert await pending == {"status": "Accepted"}


async def test_a_closed_connection_fails_the_waiting_call():
    rpc, wire, _ = endpoint("2.0.1")
    pending = asyncio.create_task(rpc.call("ClearCache", {}))
    await wire.next()
    rpc.cancel_pending()
    with pytest.raises(ConnectionError):
        await pending


async def test_the_observer_sees_every_frame_both_ways_with_its_action():
    seen: list[tuple[str, int, str, str]] = []

    def observe(direction: str, text: str, kind: int, unique_id: str, action: str) -> None:
        seen.append((direction, kind, unique_id, action))

    rpc, wire, _ = endpoint("2.0.1", observer=observe)
    await rpc.receive('[2, "in-1", "Heartbeat", {}]')
    assert (await wire.next())[0] == 3
    pending = asyncio.create_task(rpc.call("ClearCache", {}))
    sent = await wire.next()
    await rpc.receive(json.dumps([3, sent[1], {"status": "Accepted"}]))
    await pending
    await rpc.receive("garbage")
    assert seen == [
        ("in", 2, "in-1", "Heartbeat"),
        ("out", 3, "in-1", "Heartbeat"),
        ("out", 2, sent[1], "ClearCache"),
        ("in", 3, sent[1], "ClearCache"),
        ("in", 0, "", ""),
        ("out", 4, "-1", ""),
    ]


def test_the_rpc_layer_imports_neither_django_nor_channels():
    """ocppj is shared by the CSMS and the emulator: it must stay free of the web framework."""
    code = (
        "import sys, ocppj, ocppj.rpc, ocppj.frames, ocppj.schemas, ocppj.telemetry;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'channels'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
