"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against a real ASGI
server and an emulated station: everything an operator sees must arrive without a reload.

Screenshots of every page are saved in artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from emulator.station import EmulatedStation, StationOptions
from stations.models import IdToken, Station
from tests.servers import ROOT

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def browser():
    if not HAVE_CHROMIUM:
        if os.environ.get("CSMS_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        await browser.close()


@database_sync_to_async
def prepare() -> None:
    get_user_model().objects.create_user("operator", password="s3cret-pass", is_staff=True)
    IdToken.objects.create(token="DRIVER-1")


@database_sync_to_async
def register(identity: str) -> None:
    Station.objects.create(id=identity, registration_status="Accepted")


async def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def test_an_operator_watches_a_station_live_and_reserves_from_the_page(live_daphne, browser):
    await prepare()
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{live_daphne.http_url}/")
    assert "/login/" in page.url
    await shot(page, "01-login")
    await page.fill("input[name=username]", "operator")
    await page.fill("input[name=password]", "s3cret-pass")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#live-state.on")  # the live socket is open
    await page.wait_for_selector("#no-stations:not([hidden])")
    await shot(page, "02-overview-empty")
    await register("BROWSER_1")  # after the page loaded: whatever shows up now came live

    station = EmulatedStation(
        StationOptions(
            identity="BROWSER_1",
            url=f"{live_daphne.url}/ocpp/",
            protocol="1.6",  # its connectors say Charging (2.0.1 ones say Occupied)
            connectors=2,
            meter_interval=0.3,
        )
    )
    running = asyncio.create_task(station.run())
    try:
        # A station connecting appears without a reload, with its connectors.
        row = 'tr[data-station="BROWSER_1"]'
        await page.wait_for_selector(f'{row} [data-field="connection"]:text("online")')
        await page.wait_for_selector(f'{row} [data-evse="2"]:text("Available")')
        await page.wait_for_selector('[data-summary="connected"]:text("1")')
        await shot(page, "03-overview-live")

        await page.click(f"{row} a")
        await page.wait_for_selector('#station-page[data-station="BROWSER_1"]')
        await page.wait_for_selector("#live-state.on")

        # A connector turns Charging and the chart grows, live.
        started = time.monotonic()
        session = asyncio.create_task(station.session(1, "DRIVER-1", 60))
        await page.wait_for_selector('p[data-field="connectors"] [data-evse="1"]:text("Charging")')
        latency = time.monotonic() - started
        print(f"\nstatus change to page: {latency * 1000:.0f} ms (includes authorize and start)")
        points = "Number(document.querySelector('#meter-chart').dataset.points || 0)"
        await page.wait_for_function(f"{points} >= 2")
        first = await page.evaluate(points)
        await page.wait_for_function(f"{points} >= {first + 2}")  # still growing, live
        energy = await page.text_content('#active-transactions [data-field="energy"]')
        assert int(energy) > 0
        await shot(page, "04-station-charging")

        # A status change measured on its own: the station reports it, the page shows it.
        started = time.monotonic()
        await station.set_status(2, "Unavailable")
        await page.wait_for_selector(
            'p[data-field="connectors"] [data-evse="2"]:text("Unavailable")'
        )
        latency = time.monotonic() - started
        print(f"StatusNotification to page: {latency * 1000:.0f} ms")
        assert latency < 1.0
        await station.set_status(2, "Available")

        # Reserve from the page: the station's answer is shown.
        form = 'form[data-action="reserve"]'
        await page.fill(f"{form} input[name=id_token]", "DRIVER-1")
        await page.fill(f"{form} input[name=evse_id]", "2")
        await page.click(f"{form} button")
        await page.wait_for_selector('#action-result.ok:text("answered ReserveNow")')
        assert '"Accepted"' in await page.text_content("#action-result")
        await page.wait_for_selector(
            '#reservation-table [data-field="status"]:has-text("accepted")'
        )
        await page.wait_for_selector('p[data-field="connectors"] [data-evse="2"]:text("Reserved")')
        await shot(page, "05-station-reserved")

        for name, path in (
            ("06-stations", "/stations/"),
            ("07-transactions", "/transactions/"),
            ("08-reservations", "/reservations/"),
        ):
            await page.goto(f"{live_daphne.http_url}{path}")
            await shot(page, name)
        await page.set_viewport_size({"width": 800, "height": 1000})  # a tablet
        await page.goto(f"{live_daphne.http_url}/stations/BROWSER_1/")
        await shot(page, "09-station-tablet")
        session.cancel()
    finally:
        station.stop()
        station.close_connection()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
