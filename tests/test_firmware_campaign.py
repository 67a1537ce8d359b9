"""A firmware campaign over an emulated fleet of 50 (the issue's "done when"), on a real server
whose campaign job ticks every 0.2 s: the canary share goes first, two of its ten stations are
told to fail, the success rate (80 %) falls below the gate (90 %) and the campaign pauses with the
other 40 stations untouched; an operator resumes it through REST, the rollout updates the rest
(at most `concurrency` at once) and the campaign completes with 48 installed, 2 failed. Pause,
resume and cancel in process too."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from channels.db import database_sync_to_async

from emulator.station import StationOptions
from firmware import campaigns
from firmware.models import Campaign, FirmwareImage, FirmwareUpdate
from stations.models import Station
from tests.emulated import WatchedStation, shut_down
from tests.live_api import LiveApi, staff_token
from tests.servers import AsgiServer
from tests.test_firmware import upload_image

pytestmark = [pytest.mark.django_db(transaction=True)]

FLEET = 50
FAILING = {"FLEET_03", "FLEET_07"}  # canaries (the first tenth, in identity order)


async def until_campaign(api: LiveApi, pk: int, condition: Any, timeout: float = 60.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        _, campaign = await api.call("GET", f"/firmware-campaigns/{pk}/")
        if condition(campaign):
            return campaign
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"campaign {pk}: {campaign}")
        await asyncio.sleep(0.1)  # the server's job moves it on


@pytest.mark.live
async def test_a_campaign_over_50_stations_pauses_at_its_gate_then_completes_when_resumed():
    server = await asyncio.to_thread(
        lambda: AsgiServer("uvicorn", env={"OCPP_CAMPAIGN_TICK_SECONDS": "0.2"}).start()
    )
    stations: list[WatchedStation] = []
    tasks: list[asyncio.Task[Any]] = []
    try:
        identities = [f"FLEET_{i:02d}" for i in range(FLEET)]
        await Station.objects.abulk_create([Station(id=i) for i in identities])
        for index, identity in enumerate(identities):
            options = StationOptions(identity=identity, url=f"{server.url}/ocpp/", call_timeout=15)
            station = WatchedStation(options, rng=random.Random(index))
            protocol: Any = station.protocol
            if identity in FAILING:
                protocol.firmware_failure = "install"
            stations.append(station)
            tasks.append(asyncio.create_task(station.run()))
        await asyncio.wait_for(asyncio.gather(*(s.online.wait() for s in stations)), 60)
        await until_booted(identities)

        api = LiveApi(server, await staff_token())
        image = await asyncio.to_thread(upload_image, api, "7.0.0")
        status, campaign = await api.call(
            "POST",
            "/firmware-campaigns/",
            {
                "name": "7.0.0 to the fleet",
                "image": image["id"],
                "vendor": "CSMS-Emulator",
                "from_version": "1.0.0",
                "canary_percent": 20,
                "success_gate": 90,
                "concurrency": 20,
            },
        )
        assert status == 201, campaign
        assert campaign["progress"]["total"] == FLEET and campaign["progress"]["canary_total"] == 10

        paused = await until_campaign(api, campaign["id"], lambda c: c["state"] != "running")
        assert paused["state"] == "paused", paused
        assert "80 %" in paused["paused_reason"] and "90 %" in paused["paused_reason"]
        assert paused["progress"] | {"success_rate": None} == {
            "total": 50, "queued": 40, "pending": 0, "installed": 8, "failed": 2,
            "canary_total": 10, "canary_left": 0, "success_rate": None,
        }  # fmt: skip
        updated = {
            s.identity for s in stations if any(a == "UpdateFirmware" for a, _ in s.sent_calls())
        }
        assert updated == set(identities[:10])  # none of the other 40 was touched

        _, resumed = await api.call("POST", f"/firmware-campaigns/{campaign['id']}/resume/")
        assert (resumed["state"], resumed["stage"]) == ("running", "rollout")
        done = await until_campaign(api, campaign["id"], lambda c: c["state"] != "running", 90)
        assert done["state"] == "completed", done
        assert (done["progress"]["installed"], done["progress"]["failed"]) == (48, 2)
        versions = await database_sync_to_async(
            lambda: dict(
                Station.objects.filter(id__in=identities).values_list("id", "firmware_version")
            )
        )()
        assert {i for i, v in versions.items() if v != "7.0.0"} == FAILING
    finally:
        for station, task in zip(stations, tasks, strict=True):
            await shut_down(station, task, 2)
        await asyncio.to_thread(server.stop)


async def until_booted(identities: list[str], timeout: float = 30.0) -> None:
    """Every station's boot is stored (vendor and version: what the campaign chooses by)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await Station.objects.filter(id__in=identities, firmware_version="1.0.0").acount() < len(
        identities
    ):
        assert asyncio.get_running_loop().time() < deadline, "not every station booted"
        await asyncio.sleep(0.05)


async def test_pause_resume_and_cancel(make_station):
    for identity in ("C_1", "C_2", "C_3"):
        station = await make_station(identity)
        station.firmware_version = "1.0.0"
        await station.asave()
    image = await FirmwareImage.objects.acreate(name="x", version="2.0.0", file="firmware/x.bin")
    campaign = await database_sync_to_async(campaigns.create)("c", image, canary_percent=34)
    updates = FirmwareUpdate.objects.filter(campaign=campaign)
    assert await updates.acount() == 3 and await updates.filter(canary=True).acount() == 2
    assert (await database_sync_to_async(campaigns.pause)(campaign.pk)).state == "paused"
    resumed = await database_sync_to_async(campaigns.resume)(campaign.pk)
    assert (resumed.state, resumed.stage) == ("running", "canary")  # not a gate's pause
    cancelled = await database_sync_to_async(campaigns.cancel)(campaign.pk)
    assert cancelled.state == "cancelled"
    assert await updates.filter(outcome="cancelled").acount() == 3
    # Nothing is sent for a station that is offline: the tick leaves it queued.
    running = await database_sync_to_async(campaigns.create)("d", image)
    assert await database_sync_to_async(campaigns.due)() == []
    assert await FirmwareUpdate.objects.filter(campaign=running, outcome="queued").acount() == 3
    assert (await Campaign.objects.aget(pk=running.pk)).state == "running"


async def test_an_operator_uploads_starts_a_campaign_and_updates_a_station_from_the_dashboard(
    make_station,
):
    """In process: the firmware page's upload and campaign forms, the campaign's page and its
    buttons, and the security page's update form (the station answers over the socket)."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import AsyncClient

    from tests.ocpp_client import OcppTestClient

    await make_station("DASH_FW")
    await get_user_model().objects.acreate_user("op", password="pw", is_staff=True)
    browser = AsyncClient()
    await browser.alogin(username="op", password="pw")
    upload = SimpleUploadedFile("fw.bin", b"EMULATOR-FIRMWARE 8.0.0\n")
    response = await browser.post(
        "/firmware/", {"upload": "1", "name": "Wallbox", "version": "8.0.0", "file": upload}
    )
    assert response.status_code == 302
    image = await FirmwareImage.objects.aget(version="8.0.0")
    half = await browser.post(
        "/firmware/",
        {
            "upload": "1",
            "name": "x",
            "version": "1",
            "file": SimpleUploadedFile("a", b"a"),
            "signature": "c2ln",
        },
    )
    assert "needs both its signature and its signing certificate" in half.content.decode()

    response = await browser.post(
        "/firmware/",
        {
            "campaign": "1",
            "name": "Wallbox 8",
            "image": image.pk,
            "canary_percent": 10,
            "success_gate": 90,
            "concurrency": 5,
        },
    )
    campaign = await Campaign.objects.aget(name="Wallbox 8")
    assert response["Location"] == f"/firmware/campaigns/{campaign.pk}/"
    page = (await browser.get(response["Location"])).content.decode()
    assert 'data-station="DASH_FW"' in page and "Queued" in page
    await browser.post(f"/firmware/campaigns/{campaign.pk}/pause/")
    assert (await Campaign.objects.aget(pk=campaign.pk)).state == "paused"
    await browser.post(f"/firmware/campaigns/{campaign.pk}/cancel/")
    assert (await Campaign.objects.aget(pk=campaign.pk)).state == "cancelled"

    station, _, _ = await OcppTestClient.open("DASH_FW", "2.0.1")
    await station.boot()
    posted = asyncio.ensure_future(
        browser.post(
            "/stations/DASH_FW/actions/update-firmware/",
            {"image": image.pk},
            headers={"accept": "application/json"},
        )
    )
    call = await station.answer({"status": "Accepted"})
    assert call[2] == "UpdateFirmware" and "/files/firmware/" in call[3]["firmware"]["location"]
    assert (await posted).status_code == 200
    page = (await browser.get("/stations/DASH_FW/security/")).content.decode()
    assert "Wallbox 8.0.0" in page and "In progress" in page
    await station.close()
