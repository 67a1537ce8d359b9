"""Rotating a station's Basic-auth key (OCPP 2.0.1 A01, the 1.6 security whitepaper's
AuthorizationKey) without ever locking it out: a real server, emulated stations of both versions,
and, for the window between the answer and the reconnection, an exact-frame client.

- A01.FR.01: the new key goes as SetVariables SecurityCtrlr.BasicAuthPassword (1.6:
  ChangeConfiguration AuthorizationKey, hex-encoded);
- A01.FR.02/03: until the station connects with the new key, the old one still opens it; once it
  has, the old one is revoked;
- A01.FR.04: a station that does not accept the new key keeps the old one (nothing changes);
- a station that is not connected gets nothing, and its key stays.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from stations.models import Station, StationEvent
from stations.passwords import check_station_password, make_station_password
from tests.api_clients import make_user
from tests.emulated import running
from tests.live_api import LiveApi, staff_token
from tests.ocpp_client import OcppTestClient

pytestmark = [pytest.mark.django_db(transaction=True)]

OLD = "old-station-key-0001"
TIMEOUT = 10.0


@database_sync_to_async
def keys_of(identity: str) -> tuple[str, str]:
    station = Station.objects.get(pk=identity)
    return station.password_hash, station.next_password_hash


async def events(identity: str) -> list[str]:
    return [
        e.type
        async for e in StationEvent.objects.filter(
            station_id=identity, type__startswith="KeyRotat"
        ).order_by("id")
    ]


@pytest.mark.live
async def test_a01_the_station_reconnects_with_its_new_key_and_the_old_one_is_revoked(
    live_daphne, version
):
    api = LiveApi(live_daphne, await staff_token())
    identity = f"ROT_{version.replace('.', '')}"
    async with running(live_daphne, identity, version, password=OLD) as station:
        await database_sync_to_async(Station.objects.filter(pk=identity).update)(
            password_hash=make_station_password(OLD)
        )
        status, answer = await api.call("POST", f"/stations/{identity}/rotate-key/", {})
        assert status == 200, answer
        assert (answer["status"], answer["pending"]) == ("Accepted", True)
        new = answer["key"]
        assert len(new) >= 16 and new != OLD

        # The station took it and reconnected with it (its admission made it the only key):
        # booted a second time, it is online again.
        def boots() -> int:
            return sum(1 for action, _ in station.sent if action == "BootNotification")

        await station.until(lambda: boots() >= 2 and station.online.is_set(), TIMEOUT)
        assert station.device.settings["AuthorizationKey"].value == new
        current, pending = await keys_of(identity)
        assert pending == "" and check_station_password(new.encode(), current)
        # The station may reconnect before its answer is recorded: then nothing was pending.
        assert await events(identity) in (["KeyRotationStarted", "KeyRotated"], ["KeyRotated"])
        sent = [p for a, p in station.sent_calls() if a in ("SetVariables", "ChangeConfiguration")]
        if version == "1.6":
            assert sent == [{"key": "AuthorizationKey", "value": new.encode().hex()}]
        else:
            [item] = sent[0]["setVariableData"]
            assert (item["variable"]["name"], item["attributeValue"]) == ("BasicAuthPassword", new)


async def test_a01_both_keys_open_the_station_until_it_uses_the_new_one(make_station):
    """The window between the station's Accepted and its reconnection: the old key still works
    (a station that has not applied it yet), the new one too; the first connection with the new
    key revokes the old."""
    await make_station("CP_1", password=OLD)
    operator = await make_user("operator", staff=True)
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1", password=OLD)
    await client.boot()
    request = asyncio.create_task(
        operator.post(
            "/api/stations/CP_1/rotate-key/",
            {"key": "the-new-key-000001"},
            content_type="application/json",
        )
    )
    call = await client.receive()
    assert call[2] == "SetVariables"
    await client.send(
        [
            3,
            call[1],
            {
                "setVariableResult": [
                    {
                        "attributeStatus": "Accepted",
                        "component": {"name": "SecurityCtrlr"},
                        "variable": {"name": "BasicAuthPassword"},
                    }
                ]
            },
        ]
    )
    response = await request
    assert response.json() == {
        "status": "Accepted",
        "outcome": "answered",
        "pending": True,
        "key": "the-new-key-000001",
    }
    await client.close()
    again, admitted, _ = await OcppTestClient.open("CP_1", "2.0.1", password=OLD)  # not applied
    assert admitted
    await again.close()
    current, pending = await keys_of("CP_1")
    assert pending and check_station_password(OLD.encode(), current)
    fresh, admitted, _ = await OcppTestClient.open("CP_1", "2.0.1", password="the-new-key-000001")
    assert admitted
    await fresh.close()
    current, pending = await keys_of("CP_1")
    assert pending == "" and check_station_password(b"the-new-key-000001", current)
    old, admitted, _ = await OcppTestClient.open("CP_1", "2.0.1", password=OLD)
    assert not admitted  # revoked
    await old.close()


async def test_a01_fr_04_a_refused_key_changes_nothing(make_station):
    await make_station("CP_1", password=OLD)
    operator = await make_user("operator", staff=True)
    client, _, _ = await OcppTestClient.open("CP_1", "1.6", password=OLD)
    await client.boot()
    request = asyncio.create_task(
        operator.post("/api/stations/CP_1/rotate-key/", {}, content_type="application/json")
    )
    call = await client.receive()
    assert call[2] == "ChangeConfiguration" and call[3]["key"] == "AuthorizationKey"
    await client.send([3, call[1], {"status": "Rejected"}])
    answer = (await request).json()
    assert (answer["status"], answer["pending"]) == ("Rejected", False)
    current, pending = await keys_of("CP_1")
    assert pending == "" and check_station_password(OLD.encode(), current)
    assert await events("CP_1") == ["KeyRotationRefused"]
    await client.close()


async def test_a_station_that_is_not_connected_keeps_its_key(make_station):
    await make_station("CP_1", password=OLD)
    operator = await make_user("operator", staff=True)
    response = await operator.post(
        "/api/stations/CP_1/rotate-key/", {}, content_type="application/json"
    )
    assert response.status_code == 503
    assert (await keys_of("CP_1"))[1] == ""
    bad = await operator.post(
        "/api/stations/CP_1/rotate-key/", {"key": "short"}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert (await operator.post("/api/stations/NOPE/rotate-key/", {})).status_code == 404
    driver = await make_user("driver")
    assert (await driver.post("/api/stations/CP_1/rotate-key/", {})).status_code == 403


async def test_the_station_page_rotates_the_key_and_shows_it_once(make_station):
    from django.contrib.auth import get_user_model
    from django.test import AsyncClient

    await make_station("CP_1", password=OLD)
    await get_user_model().objects.acreate_user("op", password="pw", is_staff=True)
    browser = AsyncClient()
    await browser.alogin(username="op", password="pw")
    page = (await browser.get("/stations/CP_1/")).content.decode()
    assert 'action="/stations/CP_1/actions/rotate-key/" data-action="rotate-key"' in page
    client, _, _ = await OcppTestClient.open("CP_1", "1.6", password=OLD)
    await client.boot()
    request = asyncio.create_task(
        browser.post(
            "/stations/CP_1/actions/rotate-key/",
            {"confirm": "yes"},
            headers={"Accept": "application/json"},
        )
    )
    call = await client.receive()
    await client.send([3, call[1], {"status": "Accepted"}])
    body = (await request).json()
    key = bytes.fromhex(call[3]["value"]).decode()
    assert body["ok"] is True and f"has a new key: {key} (shown once)" in body["message"]
    await client.close()
