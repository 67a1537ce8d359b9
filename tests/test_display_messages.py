"""Display messages end to end (OCPP 2.0.1 block O, the CSMS's side): a real server, the emulator
as the station, the commands through REST and the configuration page's form.

- O01: the CSMS chooses the id; a message not for a transaction has no transactionId
  (O01.FR.04); an end time is sent when given (O01.FR.05); formats and priorities the station did
  not report, and a full screen, are refused before sending;
- O02: a transaction's message names it; an unknown one is answered UnknownTransaction and kept
  with that answer;
- O03/O04: GetDisplayMessages' NotifyDisplayMessages stored (the station's own messages too);
- O05: ClearDisplayMessage; O06: the same id replaces.
"""

from __future__ import annotations

from typing import Any

import pytest

from displays.models import DisplayMessage
from tests.emulated import running
from tests.live_api import LiveApi, full_report, staff_token

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10.0


def message(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "message": {
            "id": extra.pop("id", 0),
            "priority": extra.pop("priority", "NormalCycle"),
            "message": {"format": extra.pop("format", "UTF8"), "content": text},
            **extra,
        }
    }


async def test_o01_o05_o06_messages_are_set_replaced_and_cleared(live_daphne):
    api = LiveApi(live_daphne, await staff_token())
    async with running(live_daphne, "DSP_1") as station:
        await full_report(api, station, 800)
        protocol: Any = station.protocol
        # A payload without an id (0): the CSMS gives it the next one.
        status, answer = await api.command(
            "DSP_1", "SetDisplayMessage", message("Welcome", endDateTime="2030-01-01T00:00:00Z")
        )
        assert (status, answer) == (200, {"status": "Accepted"})
        sent = [p for a, p in station.sent_calls() if a == "SetDisplayMessage"][-1]["message"]
        assert sent["id"] == 1 and "transactionId" not in sent  # O01.FR.04
        assert sent["endDateTime"] == "2030-01-01T00:00:00.000Z"  # O01.FR.05
        assert protocol.messages[1]["message"]["content"] == "Welcome"

        # Checked against what the station reported before anything is sent.
        for bad, reason in (
            (message("x", format="URI"), "not URI"),
            (message("x", priority="Other"), ""),
        ):
            status, answer = await api.command("DSP_1", "SetDisplayMessage", bad)
            assert status == 400, answer
            assert reason in answer["message"]
        # O06: the same id replaces.
        status, answer = await api.command("DSP_1", "SetDisplayMessage", message("Hi", id=1))
        assert answer == {"status": "Accepted"}
        stored = await DisplayMessage.objects.aget(station_id="DSP_1", message_id=1)
        assert (stored.content, stored.active, stored.status) == ("Hi", True, "Accepted")

        status, answer = await api.command("DSP_1", "ClearDisplayMessage", {"id": 1})
        assert answer == {"status": "Accepted"}
        stored = await DisplayMessage.objects.aget(station_id="DSP_1", message_id=1)
        assert not stored.active and stored.status == "Cleared"
        assert protocol.messages == {}


async def test_o01_a_full_screen_and_an_unknown_transaction(live_daphne):
    api = LiveApi(live_daphne, await staff_token())
    async with running(live_daphne, "DSP_2") as station:
        await full_report(api, station, 800)
        for i in range(5):  # the emulator's screen has 5 slots
            status, answer = await api.command("DSP_2", "SetDisplayMessage", message(f"m{i}"))
            assert answer == {"status": "Accepted"}
        status, answer = await api.command("DSP_2", "SetDisplayMessage", message("sixth"))
        assert status == 400 and "at most 5 messages" in answer["message"]
        await api.command("DSP_2", "ClearDisplayMessage", {"id": 5})
        status, answer = await api.command(
            "DSP_2", "SetDisplayMessage", message("for a session", transactionId="tx-unknown")
        )
        assert answer == {"status": "UnknownTransaction"}
        declined = await DisplayMessage.objects.aget(station_id="DSP_2", message_id=6)
        assert (declined.status, declined.active, declined.transaction_id) == (
            "UnknownTransaction",
            False,
            "tx-unknown",
        )


async def test_o03_o04_reported_messages_are_stored(live_daphne):
    api = LiveApi(live_daphne, await staff_token())
    async with running(live_daphne, "DSP_3") as station:
        await api.command("DSP_3", "SetDisplayMessage", message("ours"))
        protocol: Any = station.protocol
        protocol.messages[40] = {  # shown by the station on its own (a local operator)
            "id": 40,
            "priority": "InFront",
            "message": {"format": "ASCII", "content": "local"},
        }
        status, answer = await api.command("DSP_3", "GetDisplayMessages", {"requestId": 91})
        assert answer == {"status": "Accepted"}
        await station.until(lambda: station.answered.count("NotifyDisplayMessages") >= 1, TIMEOUT)
        found = {
            m.message_id: (m.content, m.origin)
            async for m in DisplayMessage.objects.filter(station_id="DSP_3")
        }
        assert found == {1: ("ours", "csms"), 40: ("local", "station")}
        status, answer = await api.command(
            "DSP_3", "GetDisplayMessages", {"requestId": 92, "id": [99]}
        )
        assert answer == {"status": "Unknown"}
        status, listed = await api.call("GET", "/display-messages/?station=DSP_3&active=true")
        assert status == 200
        assert {m["message_id"] for m in listed["results"]} == {1, 40}
