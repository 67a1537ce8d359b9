"""Local authorization lists end to end (OCPP 2.0.1 block D, 1.6 Local Auth List Management): a
real server, emulated stations of both versions, the lists composed and sent through REST.

- D01.FR.01/04/18: the first update is Full, versionNumber above 0, every entry with its info;
- D01.FR.16/17: later updates send the difference: changed tokens with info, removed without;
- D01.FR.11: each message within the station's ItemsPerMessage (1.6 SendLocalListMaxLength);
- D01.FR.12: a list longer than the station holds is not sent;
- D02: a station that reports another version (it lost its list) gets a Full update;
- 1.6 §5.15: after VersionMismatch the complete list is sent again;
- a token that changes makes the list due, and the sync job sends it without an operator.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from locallists.models import AuthorizationList, ListUpdate, StationList
from stations.models import IdToken
from tests.emulated import WatchedStation, running
from tests.live_api import LiveApi, full_report, staff_token
from tests.servers import AsgiServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10.0
TOKENS = ["CARD-A", "CARD-B", "CARD-C", "CARD-D", "CARD-E"]


@database_sync_to_async
def tokens(*names: str, **fields: Any) -> list[IdToken]:
    return [IdToken.objects.create(token=name, **fields) for name in names]


def updates(station: WatchedStation) -> list[dict[str, Any]]:
    """The SendLocalList payloads the station was sent, in order (from its frames)."""
    return [p for a, p in station.sent_calls() if a == "SendLocalList"]


def entries(payload: dict[str, Any]) -> dict[str, str | None]:
    """token -> status (None: removed) of a SendLocalList payload of either version."""
    out: dict[str, str | None] = {}
    for item in payload.get("localAuthorizationList") or []:
        if "idTag" in item:
            out[item["idTag"]] = (item.get("idTagInfo") or {}).get("status")
        else:
            out[item["idToken"]["idToken"]] = (item.get("idTokenInfo") or {}).get("status")
    return out


def version_of(payload: dict[str, Any]) -> int:
    return int(payload.get("listVersion", payload.get("versionNumber", -1)))


async def learn_limits(api: LiveApi, station: WatchedStation, version: str) -> None:
    """The CSMS reads the station's limits as an operator's first look does."""
    if version == "1.6":
        status, _ = await api.command(station.identity, "GetConfiguration", {})
        assert status == 200
        return
    await full_report(api, station, 77)


@database_sync_to_async
def make_list(name: str, names: list[str] | None = None) -> AuthorizationList:
    chosen = AuthorizationList.objects.create(name=name, all_tokens=names is None)
    if names:
        chosen.tokens.set(IdToken.objects.filter(token__in=names))
    return chosen


async def test_d01_full_then_differential_updates(live_daphne, version):
    api = LiveApi(live_daphne, await staff_token())
    await tokens("CARD-A", "CARD-B", "CARD-C")
    await tokens("CARD-X", status="Blocked")
    async with running(live_daphne, "LL_1", version) as station:
        await make_list("depot")
        status, body = await api.call("PUT", "/stations/LL_1/local-list/", {"list": "depot"})
        assert (status, body["state"]) == (200, "outdated")

        status, answer = await api.call("POST", "/stations/LL_1/local-list/sync/", {})
        assert (status, answer) == (200, {"status": "Accepted"})
        [full] = updates(station)
        assert full["updateType"] == "Full" and version_of(full) == 1  # D01.FR.18: above 0
        assert entries(full) == {
            "CARD-A": "Accepted",
            "CARD-B": "Accepted",
            "CARD-C": "Accepted",
            "CARD-X": "Blocked",  # a blocked card is listed, so that it is refused offline
        }
        assert station.local_list == {
            "CARD-A": "Accepted",
            "CARD-B": "Accepted",
            "CARD-C": "Accepted",
            "CARD-X": "Blocked",
        }
        found = await StationList.objects.aget(station_id="LL_1")
        assert (found.state, found.version, found.needs_full) == ("current", 1, False)

        # Nothing changed: nothing is sent.
        status, answer = await api.call("POST", "/stations/LL_1/local-list/sync/", {})
        assert status == 200 and len(updates(station)) == 1

        # A token blocked, one added, one deleted: the difference only (D01.FR.16/17).
        blocked = await IdToken.objects.aget(token="CARD-A")
        blocked.status = "Blocked"
        await blocked.asave()
        await tokens("CARD-D")
        await (await IdToken.objects.aget(token="CARD-B")).adelete()
        found = await StationList.objects.aget(station_id="LL_1")
        assert found.state == "outdated"
        status, answer = await api.call("POST", "/stations/LL_1/local-list/sync/", {})
        assert (status, answer) == (200, {"status": "Accepted"})
        differential = updates(station)[-1]
        assert differential["updateType"] == "Differential" and version_of(differential) == 2
        assert entries(differential) == {"CARD-A": "Blocked", "CARD-D": "Accepted", "CARD-B": None}
        assert station.local_list == {
            "CARD-A": "Blocked",
            "CARD-C": "Accepted",
            "CARD-D": "Accepted",
            "CARD-X": "Blocked",
        }
        history = [
            (u.version, u.update_type, u.added, u.removed, u.status)
            async for u in ListUpdate.objects.filter(station_id="LL_1").order_by("id")
        ]
        assert history == [(1, "Full", 4, 0, "Accepted"), (2, "Differential", 2, 1, "Accepted")]


async def test_d01_fr_11_each_message_within_the_stations_limit(live_daphne, version):
    api = LiveApi(live_daphne, await staff_token())
    await tokens(*TOKENS)
    async with running(live_daphne, "LL_2", version, local_list_items=2) as station:
        await learn_limits(api, station, version)
        await make_list("all")
        await api.call("PUT", "/stations/LL_2/local-list/", {"list": "all"})
        status, answer = await api.call("POST", "/stations/LL_2/local-list/sync/", {})
        assert (status, answer) == (200, {"status": "Accepted"})
        sent = updates(station)
        assert [(p["updateType"], version_of(p), len(entries(p))) for p in sent] == [
            ("Full", 1, 2),
            ("Differential", 2, 2),
            ("Differential", 3, 1),
        ]
        assert sorted(station.local_list) == TOKENS
        found = await StationList.objects.aget(station_id="LL_2")
        assert (found.state, found.version) == ("current", 3)


async def test_d01_fr_12_a_list_longer_than_the_station_holds_is_not_sent(live_daphne, version):
    api = LiveApi(live_daphne, await staff_token())
    await tokens(*TOKENS)
    async with running(live_daphne, "LL_3", version, local_list_max=3) as station:
        await learn_limits(api, station, version)
        await make_list("all")
        await api.call("PUT", "/stations/LL_3/local-list/", {"list": "all"})
        status, answer = await api.call("POST", "/stations/LL_3/local-list/sync/", {})
        assert status == 409 and "holds at most 3" in answer["message"]
        assert updates(station) == []
        found = await StationList.objects.aget(station_id="LL_3")
        assert found.state == "too_large"


async def test_d02_a_station_that_lost_its_list_gets_a_full_update(live_daphne, version):
    api = LiveApi(live_daphne, await staff_token())
    await tokens("CARD-A", "CARD-B")
    async with running(live_daphne, "LL_4", version) as station:
        await make_list("all")
        await api.call("PUT", "/stations/LL_4/local-list/", {"list": "all"})
        await api.call("POST", "/stations/LL_4/local-list/sync/", {})
        station.local_list, station.local_list_version = {}, 0  # a factory reset, say
        status, answer = await api.command("LL_4", "GetLocalListVersion", {})
        assert status == 200 and version_of(answer) == 0
        found = await StationList.objects.aget(station_id="LL_4")
        assert (found.station_version, found.needs_full, found.state) == (0, True, "outdated")
        await api.call("POST", "/stations/LL_4/local-list/sync/", {})
        again = updates(station)[-1]
        assert again["updateType"] == "Full" and version_of(again) == 2
        assert sorted(station.local_list) == ["CARD-A", "CARD-B"]


async def test_a_version_mismatch_sends_the_complete_list_next(live_daphne, version):
    api = LiveApi(live_daphne, await staff_token())
    await tokens("CARD-A")
    async with running(live_daphne, "LL_5", version) as station:
        await make_list("all")
        await api.call("PUT", "/stations/LL_5/local-list/", {"list": "all"})
        await api.call("POST", "/stations/LL_5/local-list/sync/", {})
        station.local_list_version = 50  # another CSMS wrote the list meanwhile
        await tokens("CARD-B")
        status, answer = await api.call("POST", "/stations/LL_5/local-list/sync/", {})
        assert (status, answer) == (200, {"status": "VersionMismatch"})
        found = await StationList.objects.aget(station_id="LL_5")
        assert (found.state, found.needs_full) == ("failed", True)
        status, answer = await api.call("POST", "/stations/LL_5/local-list/sync/", {})
        assert answer == {"status": "Accepted"}
        last = updates(station)[-1]
        assert last["updateType"] == "Full" and sorted(entries(last)) == ["CARD-A", "CARD-B"]


async def test_a_changed_token_reaches_the_station_without_an_operator(version):
    """The sync job of a server sends what is due: a token blocked in the CSMS is blocked in the
    station's list within a tick."""
    server = AsgiServer("daphne", env={"OCPP_LOCAL_LIST_SYNC_SECONDS": "0.2"}).start()
    try:
        api = LiveApi(server, await staff_token())
        await tokens("CARD-A")
        async with running(server, "LL_6", version) as station:
            await make_list("all")
            await api.call("PUT", "/stations/LL_6/local-list/", {"list": "all"})
            await station.until(lambda: station.local_list == {"CARD-A": "Accepted"}, TIMEOUT)
            token = await IdToken.objects.aget(token="CARD-A")
            token.status = "Blocked"
            await token.asave()
            await station.until(lambda: station.local_list == {"CARD-A": "Blocked"}, TIMEOUT)
            assert all(p["updateType"] for p in updates(station))
    finally:
        server.stop()
