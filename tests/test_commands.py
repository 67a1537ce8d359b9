"""Commands from the CSMS to a station over the channel layer, and the station's answers."""

from __future__ import annotations

import asyncio

import pytest

from stations.models import Command
from stations.remote.delivery import send_command
from stations.remote.results import CommandRefused, Outcome
from tests.ocpp_client import OcppTestClient, status_payload

pytestmark = pytest.mark.django_db(transaction=True)

RESET = {"1.6": {"type": "Hard"}, "2.0.1": {"type": "Immediate"}}


async def test_a_command_reaches_the_station_and_returns_its_answer(booted, version):
    pending = asyncio.create_task(send_command("CP_1", "Reset", RESET[version]))
    call = await booted.receive()
    assert call[0] == 2 and call[2] == "Reset" and call[3] == RESET[version]
    await booted.send([3, call[1], {"status": "Accepted"}])
    result = await pending
    assert result.outcome == Outcome.ANSWERED and result.payload == {"status": "Accepted"}
    assert result.duration_ms > 0


async def test_the_stations_own_calls_are_answered_while_a_command_waits(booted, version):
    pending = asyncio.create_task(send_command("CP_1", "ClearCache", {}))
    call = await booted.receive()
    assert "currentTime" in await booted.heartbeat()  # not blocked by the outstanding command
    await booted.send([3, call[1], {"status": "Accepted"}])
    assert (await pending).outcome == Outcome.ANSWERED


async def test_a_call_error_is_reported_with_its_code(booted):
    pending = asyncio.create_task(send_command("CP_1", "ClearCache", {}))
    call = await booted.receive()
    await booted.send([4, call[1], "InternalError", "Cache is busy", {"why": "busy"}])
    result = await pending
    assert (result.outcome, result.error_code, result.description) == (
        Outcome.CALL_ERROR,
        "InternalError",
        "Cache is busy",
    )
    assert result.details == {"why": "busy"}


async def test_an_answer_that_breaks_the_schema_is_reported(booted):
    pending = asyncio.create_task(send_command("CP_1", "ClearCache", {}))
    call = await booted.receive()
    await booted.send([3, call[1], {"status": "Maybe"}])
    result = await pending
    assert result.outcome == Outcome.INVALID_RESPONSE and result.payload == {"status": "Maybe"}


async def test_a_station_that_does_not_answer_times_out(booted):
    result = await send_command("CP_1", "ClearCache", {}, timeout=0.2)
    assert result.outcome == Outcome.TIMEOUT
    await booted.receive()  # the CALL did go out
    assert "currentTime" in await booted.heartbeat()


async def test_a_station_that_is_not_connected_is_reported(make_station):
    await make_station("CP_OFF")
    result = await send_command("CP_OFF", "ClearCache", {})
    assert result.outcome == Outcome.NOT_CONNECTED


async def test_a_station_the_csms_does_not_know_is_refused_and_nothing_is_recorded(db):
    with pytest.raises(CommandRefused) as refused:
        await send_command("NOBODY", "ClearCache", {})
    assert (refused.value.code, refused.value.message) == (
        "unknown_station",
        "No such station: NOBODY",
    )
    assert not await Command.objects.aexists()


async def test_an_action_the_version_lacks_is_refused_with_the_valid_ones(booted, version):
    other = "GetVariables" if version == "1.6" else "GetConfiguration"
    with pytest.raises(CommandRefused) as refused:
        await send_command("CP_1", other, {})
    assert "Reset" in refused.value.valid_actions and other not in refused.value.valid_actions


async def test_an_invalid_payload_is_refused_before_anything_is_sent(booted, version):
    with pytest.raises(CommandRefused) as refused:
        await send_command("CP_1", "Reset", {"type": "Gentle"})
    assert "type" in refused.value.message
    assert "currentTime" in await booted.heartbeat()  # the next frame is ours: no CALL went out


async def test_a_triggered_message_is_allowed_before_acceptance(make_station, version):
    await make_station("CP_P", registration="Pending")
    client, _, _ = await OcppTestClient.open("CP_P", version)
    await client.boot()
    pending = asyncio.create_task(
        send_command("CP_P", "TriggerMessage", {"requestedMessage": "StatusNotification"})
    )
    call = await client.receive()
    await client.send([3, call[1], {"status": "Accepted"}])
    assert (await pending).outcome == Outcome.ANSWERED
    assert await client.result("StatusNotification", status_payload(version, 1)) == {}
    # Only once: the next one is refused again.
    answer = await client.call("StatusNotification", status_payload(version, 1))
    assert answer[2] == "SecurityError"
    await client.close()
