"""Blocks D, N and O against a station the project did not write: the `ocpp` library's 2.0.1
ChargePoint over a real WebSocket to a real server, commands through REST. What the CSMS sends
must be what any conformant station takes, and what such a station sends must be stored.

- D01.FR.01/06/18, D01.FR.16/17: a Full list first (every entry with its info, version above 0),
  then a Differential with the change and a removal without info;
- N07: a NotifyEvent with an Alerting hard-wired monitor raises an alert, its cleared event
  closes it;
- O01.FR.04, O05: SetDisplayMessage with the CSMS's id and no transactionId; ClearDisplayMessage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async
from ocpp.routing import on
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action

from displays.models import DisplayMessage
from locallists.models import AuthorizationList, StationList
from monitoring.models import Alert
from stations.models import IdToken, Station
from tests.live_api import LiveApi, staff_token
from tests.ocpp_client import connect_ws

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class LibraryStation(ChargePoint201):
    """Keeps what the CSMS sends it: local-list updates, display messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.updates: list[dict[str, Any]] = []
        self.displays: dict[int, dict[str, Any]] = {}

    @on(Action.send_local_list)
    def on_send_local_list(self, version_number: int, update_type: str, **fields: Any):
        self.updates.append(
            {
                "version": version_number,
                "type": update_type,
                "list": fields.get("local_authorization_list") or [],
            }
        )
        return result201.SendLocalList(status="Accepted")

    @on(Action.set_display_message)
    def on_set_display_message(self, message: dict[str, Any], **_: Any):
        self.displays[message["id"]] = message
        return result201.SetDisplayMessage(status="Accepted")

    @on(Action.clear_display_message)
    def on_clear_display_message(self, id: int, **_: Any):
        found = self.displays.pop(id, None)
        return result201.ClearDisplayMessage(status="Accepted" if found else "Unknown")


@contextlib.asynccontextmanager
async def library_station(server: Any, identity: str) -> AsyncIterator[LibraryStation]:
    await database_sync_to_async(Station.objects.create)(id=identity)
    ws = await connect_ws(server.url, identity, "2.0.1")
    station = LibraryStation(identity, ws, response_timeout=10)
    reader = asyncio.create_task(station.start())
    try:
        boot = await station.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Lib", "model": "Two"}, reason="PowerUp"
            )
        )
        assert boot.status == "Accepted"
        yield station
    finally:
        await ws.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await reader


async def test_d01_a_library_station_takes_the_full_list_then_the_difference(live_daphne):
    api = LiveApi(live_daphne, await staff_token())

    @database_sync_to_async
    def setup() -> None:
        IdToken.objects.create(token="LIB-A")
        IdToken.objects.create(token="LIB-B", status="Blocked")
        AuthorizationList.objects.create(name="lib", all_tokens=True)

    await setup()
    async with library_station(live_daphne, "LIB_D") as station:
        await api.call("PUT", "/stations/LIB_D/local-list/", {"list": "lib"})
        status, answer = await api.call("POST", "/stations/LIB_D/local-list/sync/", {})
        assert (status, answer) == (200, {"status": "Accepted"})
        [full] = station.updates
        assert full["type"] == "Full" and full["version"] >= 1
        entries = {e["id_token"]["id_token"]: e["id_token_info"]["status"] for e in full["list"]}
        assert entries == {"LIB-A": "Accepted", "LIB-B": "Blocked"}

        await (await IdToken.objects.aget(token="LIB-B")).adelete()
        status, answer = await api.call("POST", "/stations/LIB_D/local-list/sync/", {})
        assert answer == {"status": "Accepted"}
        differential = station.updates[-1]
        assert differential["type"] == "Differential"
        assert differential["version"] == full["version"] + 1
        assert differential["list"] == [{"id_token": {"id_token": "LIB-B", "type": "ISO14443"}}]
        found = await StationList.objects.aget(station_id="LIB_D")
        assert (found.state, found.version) == ("current", differential["version"])


async def test_n07_a_library_stations_problem_is_an_alert_until_it_clears(live_daphne):
    async with library_station(live_daphne, "LIB_N") as station:

        def event(event_id: int, value: str, **extra: Any) -> dict[str, Any]:
            return {
                "event_id": event_id,
                "timestamp": now(),
                "trigger": "Alerting",
                "actual_value": value,
                "event_notification_type": "HardWiredMonitor",
                "component": {"name": "ChargingStation"},
                "variable": {"name": "Problem"},
                **extra,
            }

        await station.call(
            call201.NotifyEvent(generated_at=now(), seq_no=0, event_data=[event(1, "true")])
        )
        alert = await Alert.objects.aget(station_id="LIB_N")
        assert alert.active and alert.message == "ChargingStation.Problem = true"
        await station.call(
            call201.NotifyEvent(
                generated_at=now(), seq_no=1, event_data=[event(2, "false", cleared=True)]
            )
        )
        alert = await Alert.objects.aget(station_id="LIB_N")
        assert not alert.active and alert.cleared_by == "station"


async def test_o01_o05_a_library_station_shows_and_clears_a_message(live_daphne):
    api = LiveApi(live_daphne, await staff_token())
    async with library_station(live_daphne, "LIB_O") as station:
        status, answer = await api.command(
            "LIB_O",
            "SetDisplayMessage",
            {
                "message": {
                    "id": 0,
                    "priority": "InFront",
                    "message": {"format": "UTF8", "content": "Hi"},
                }
            },
        )
        assert (status, answer) == (200, {"status": "Accepted"})
        [(message_id, shown)] = station.displays.items()
        assert message_id == 1 and "transaction_id" not in shown  # O01.FR.04
        status, answer = await api.command("LIB_O", "ClearDisplayMessage", {"id": 1})
        assert answer == {"status": "Accepted"} and station.displays == {}
        stored = await DisplayMessage.objects.aget(station_id="LIB_O", message_id=1)
        assert not stored.active
