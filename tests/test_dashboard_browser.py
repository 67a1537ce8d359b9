"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against a real ASGI
server and emulated stations: everything an operator sees must arrive without a reload, and a live
page must never show what a reload would not (its filter, its page size, its zone and its words).

Tests wait for what the page shows (selectors, or a condition on the page), never for a fixed time.
Screenshots of every page are saved in artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.utils import timezone

from emulator.station import EmulatedStation, StationOptions
from reservations.models import Reservation
from stations.models import Command, IdToken, Station, Transaction
from tests.ocpp_client import connect_ws
from tests.servers import ROOT, AsgiServer

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


# --- helpers ------------------------------------------------------------------------------------


def expect(locator):
    """Playwright's waiting assertions (imported late, like Playwright itself above)."""
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(locator)


async def signed_in(browser, server, *, timezone_id: str | None = None, javascript: bool = True):
    """A fresh browser context signed in as the operator, on the overview."""
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900},
        timezone_id=timezone_id,
        java_script_enabled=javascript,
    )
    page = await context.new_page()
    await page.goto(f"{server.http_url}/login/")
    await page.fill("input[name=username]", "operator")
    await page.fill("input[name=password]", "s3cret-pass")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server.http_url}/")
    if javascript:
        await page.wait_for_selector("#live-state.on")
    return context, page


async def visit(page, server, path: str) -> None:
    await page.goto(f"{server.http_url}{path}")
    await page.wait_for_selector("#live-state.on")


@contextlib.asynccontextmanager
async def online(server, identity: str, **options):
    """An emulated station, connected and booted, for the block."""
    options.setdefault("protocol", "1.6")
    station = EmulatedStation(
        StationOptions(identity=identity, url=f"{server.url}/ocpp/", **options)
    )
    running = asyncio.create_task(station.run())
    try:
        await asyncio.wait_for(station.online.wait(), 20)
        yield station
    finally:
        station.stop()
        station.close_connection()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


ROWS = "(sel) => Array.from(document.querySelectorAll(sel)).map((r) => r.dataset.station)"


async def listed(page) -> list[str]:
    return await page.evaluate(ROWS, "#station-table tbody tr[data-station]")


async def same_as_after_a_reload(page, *selectors: str) -> None:
    """The live page shows, in each of `selectors`, the very text a fresh load of it shows."""
    fresh = await page.context.new_page()
    try:
        await fresh.goto(page.url)
        for selector in selectors:
            expected = await fresh.inner_text(selector)
            try:  # the live page may still be catching up: wait for it, within bounds
                await expect(page.locator(selector)).to_have_text(
                    expected, use_inner_text=True, timeout=10_000
                )
            except AssertionError:
                live = await page.inner_text(selector)
                pytest.fail(f"{selector} live:\n{live}\n\nafter a reload:\n{expected}")
    finally:
        await fresh.close()


@database_sync_to_async
def register_many(identities: list[str], **fields) -> None:
    Station.objects.bulk_create(
        Station(id=identity, registration_status="Accepted", **fields) for identity in identities
    )


@database_sync_to_async
def transaction_of(identity: str) -> Transaction:
    return Transaction.objects.filter(station_id=identity).latest("started_at")


@database_sync_to_async
def commands(action: str) -> list[Command]:
    return list(Command.objects.filter(action=action).order_by("pk"))


# --- 1. Filters and pages stay what they are -------------------------------------------------------


async def test_a_filtered_station_list_gains_and_loses_only_matching_stations(live_daphne, browser):
    await prepare()
    await register_many([f"CP_{i:03}" for i in range(68)])
    await register_many(["CP_FAULTED"], status="Faulted")
    await register("LIVE_HEALTHY")
    await register("LIVE_FAULTY")
    context, page = await signed_in(browser, live_daphne)
    await visit(page, live_daphne, "/stations/?state=faulted")
    assert await listed(page) == ["CP_FAULTED"]

    async with (
        online(live_daphne, "LIVE_HEALTHY") as healthy,
        online(live_daphne, "LIVE_FAULTY") as faulty,
    ):
        await healthy.set_status(1, "Charging")
        await faulty.set_status(1, "Faulted")
        # The faulted one joins the list; the healthy one (whose events came first) never does.
        await page.wait_for_selector(
            'tr[data-station="LIVE_FAULTY"] [data-evse="1"]:text("Faulted")'
        )
        assert await listed(page) == ["CP_FAULTED", "LIVE_FAULTY"]
        await shot(page, "10-stations-faulted-live")

        await faulty.set_status(1, "Available")  # repaired: no longer matches the filter
        await page.wait_for_selector('tr[data-station="LIVE_FAULTY"]', state="detached")
        assert await listed(page) == ["CP_FAULTED"]
        await same_as_after_a_reload(page, "#station-table")
    await context.close()


async def test_the_overview_keeps_its_first_50_stations_whoever_connects(live_daphne, browser):
    await prepare()
    await register_many([f"CP_{i:03}" for i in range(70)])
    context, page = await signed_in(browser, live_daphne)
    first_50 = [f"CP_{i:03}" for i in range(50)]
    assert await listed(page) == first_50

    async with online(live_daphne, "CP_065", connectors=2):  # beyond the overview's 50
        await page.wait_for_selector('[data-summary="connected"]:text("1")')
        assert await listed(page) == first_50
        async with online(live_daphne, "CP_003", connectors=2) as on_page:
            row = 'tr[data-station="CP_003"]'
            await page.wait_for_selector(f'{row} [data-field="connection"]:text("online")')
            await page.wait_for_selector(f'{row} [data-evse="2"]:text("Available")')
            await on_page.set_status(2, "Unavailable")
            await page.wait_for_selector(f'{row} [data-evse="2"]:text("Unavailable")')
            await page.wait_for_selector('[data-summary="connected"]:text("2")')
            assert await listed(page) == first_50
            await shot(page, "11-overview-70-stations")
            await same_as_after_a_reload(page, "#station-table tbody")
    assert "The first 50 of 70 stations" in await page.inner_text("#station-list")
    await context.close()


async def test_the_transaction_list_is_live_within_its_filter_and_page(live_daphne, browser):
    await prepare()
    await register("LIVE_TX")
    await register_many(["CP_OLD"])
    yesterday = timezone.now() - timedelta(days=1)
    await database_sync_to_async(Transaction.objects.bulk_create)(
        Transaction(
            station_id="CP_OLD",
            evse_id=1,
            started_at=yesterday + timedelta(minutes=i),
            stopped_at=yesterday + timedelta(minutes=i + 1),
            is_active=False,
            stop_reason="Local",
        )
        for i in range(55)
    )
    context, charging = await signed_in(browser, live_daphne)
    await visit(charging, live_daphne, "/transactions/?active=yes")
    everything = await context.new_page()
    await visit(everything, live_daphne, "/transactions/")
    rows = "table.grid tbody tr[data-transaction]"
    assert await charging.locator(rows).count() == 0
    assert await everything.locator(rows).count() == 50

    async with online(live_daphne, "LIVE_TX", meter_interval=0.3) as station:
        await station.start_transaction(1, "DRIVER-1")
        new = 'tr[data-transaction]:has(a:text-is("LIVE_TX"))'
        await charging.wait_for_selector(new)
        tx = await transaction_of("LIVE_TX")
        row = f'tr[data-transaction="{tx.pk}"]'
        for page in (charging, everything):  # a new session comes live, at the top
            await page.wait_for_selector(f"{row} .status-charging")
            await page.wait_for_function(
                "(sel) => Number(document.querySelector(sel)?.textContent) > 0",
                arg=f'{row} [data-field="energy"]',
            )
        assert await charging.locator(rows).count() == 1
        assert await everything.locator(rows).count() == 50  # the oldest went to page 2
        first = await everything.locator(rows).first.get_attribute("data-transaction")
        assert first == str(tx.pk)
        await shot(charging, "12-transactions-charging-live")

        await station.stop_transaction(1)
        await charging.wait_for_selector(row, state="detached")  # finished: not "charging"
        await everything.wait_for_selector(f'{row}[data-active="false"]')
        assert await everything.locator(f"{row} .status-charging").count() == 0
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", await everything.inner_text(row))
        assert await charging.locator(rows).count() == 0
        assert await everything.locator(rows).count() == 50
        await same_as_after_a_reload(everything, "table.grid")
    await context.close()


# --- 2. The station page follows the sessions ------------------------------------------------------


async def test_the_station_page_follows_a_remote_start_and_its_remote_stop(live_daphne, browser):
    await prepare()
    await register("LIVE_RS")
    context, page = await signed_in(browser, live_daphne)
    target = 'form[data-action="remote-stop"] select'
    caption = "figure.chart figcaption"
    recent = 'section:has(h2:text("Recent transactions")) table'
    log = ".log"
    async with online(live_daphne, "LIVE_RS", connectors=2, meter_interval=0.3):
        await visit(page, live_daphne, "/stations/LIVE_RS/")
        await page.wait_for_selector(
            f'{target} option:text("no active transaction")', state="attached"
        )

        start = 'form[data-action="remote-start"]'
        await page.fill(f"{start} input[name=id_token]", "DRIVER-1")
        await page.click(f"{start} button")
        await page.wait_for_selector('#action-result.ok:text("answered RemoteStartTransaction")')
        await page.wait_for_selector("#active-transactions [data-transaction]")
        tx = await transaction_of("LIVE_RS")
        # Every part of the page follows the new session, without a reload.
        await page.wait_for_selector(
            f'{target} option[value="{tx.transaction_id}"]', state="attached"
        )
        await page.wait_for_selector(f'{caption}:text("transaction {tx.transaction_id}")')
        await page.wait_for_selector(f'{recent} tbody tr:has-text("charging")')
        await page.wait_for_selector(f'{log} b:text-is("RemoteStartTransaction")')
        await page.wait_for_selector(f'{log} b:text-is("StartTransaction")')
        points = "Number(document.querySelector('#meter-chart').dataset.points || 0)"
        await page.wait_for_function(f"{points} >= 2")
        await shot(page, "13-station-remote-started")

        stop = 'form[data-action="remote-stop"]'
        await page.click(f"{stop} button")
        await page.wait_for_selector('#action-result.ok:text("answered RemoteStopTransaction")')
        await page.wait_for_selector("#no-active")
        await page.wait_for_selector(
            f'{target} option:text("no active transaction")', state="attached"
        )
        await expect(page.locator(f"{recent} tbody")).not_to_contain_text("charging")
        await page.wait_for_selector(f'{log} b:text-is("StopTransaction")')
        await shot(page, "14-station-remote-stopped")
        await same_as_after_a_reload(
            page,
            "#active-transactions",
            target,
            caption,
            recent,
            'p[data-field="connectors"]',
        )
    await context.close()


# --- 3. A station saying no is not a success -----------------------------------------------------


@contextlib.asynccontextmanager
async def declining_2_0_1_station(server, identity: str):
    """A raw 2.0.1 station over a real WebSocket: boots, then declines every command with a reason."""
    async with await connect_ws(server.url, identity) as ws:
        boot = {"chargingStation": {"vendorName": "Raw", "model": "No"}, "reason": "PowerUp"}
        await ws.send(json.dumps([2, "boot-1", "BootNotification", boot]))
        while json.loads(await ws.recv())[:2] != [3, "boot-1"]:
            pass

        async def answer() -> None:
            async for text in ws:
                frame = json.loads(text)
                if frame[0] == 2:
                    info = {"reasonCode": "UnknownEvse", "additionalInfo": "no EVSE 9 here"}
                    await ws.send(
                        json.dumps([3, frame[1], {"status": "Rejected", "statusInfo": info}])
                    )

        answering = asyncio.create_task(answer())
        try:
            yield
        finally:
            answering.cancel()
            await asyncio.gather(answering, return_exceptions=True)


async def test_a_station_declining_a_command_is_shown_as_a_warning(live_daphne, browser):
    await prepare()
    await register("LIVE_NO_16")
    await register("LIVE_NO_201")
    context, page = await signed_in(browser, live_daphne)
    availability = 'form[data-action="availability"]'
    async with online(live_daphne, "LIVE_NO_16"):
        await visit(page, live_daphne, "/stations/LIVE_NO_16/")
        await page.fill(f"{availability} input[name=evse_id]", "9")  # the station has one
        await page.click(f"{availability} button")
        await page.wait_for_selector("#action-result:not(.waiting)")
        assert await page.get_attribute("#action-result", "class") == "result warning"
        assert await page.inner_text("#action-result") == (
            "LIVE_NO_16 did not accept ChangeAvailability: Rejected"
        )
    async with declining_2_0_1_station(live_daphne, "LIVE_NO_201"):
        await visit(page, live_daphne, "/stations/LIVE_NO_201/")
        await page.fill(f"{availability} input[name=evse_id]", "9")
        await page.click(f"{availability} button")
        await page.wait_for_selector("#action-result:not(.waiting)")
        assert await page.get_attribute("#action-result", "class") == "result warning"
        assert await page.inner_text("#action-result") == (
            "LIVE_NO_201 did not accept ChangeAvailability: Rejected "
            "(reason: UnknownEvse — no EVSE 9 here)"
        )
        color = await page.eval_on_selector(
            "#action-result", "(el) => getComputedStyle(el).backgroundColor"
        )
        assert color == "rgb(255, 241, 214)"  # the warning style, not the green of success
        await shot(page, "15-station-declined")
    await context.close()


# --- 4. A hard reset is confirmed first ---------------------------------------------------------


async def test_a_hard_reset_on_the_dashboard_needs_its_box_ticked(live_daphne, browser):
    await prepare()
    await register("LIVE_HR_JS")
    await register("LIVE_HR_NOJS")
    hard = "form.danger"
    async with online(live_daphne, "LIVE_HR_JS"), online(live_daphne, "LIVE_HR_NOJS"):
        context, page = await signed_in(browser, live_daphne)
        await visit(page, live_daphne, "/stations/LIVE_HR_JS/")
        await page.click(f"{hard} button")  # not ticked: the browser refuses to submit
        assert not await page.eval_on_selector(hard, "(form) => form.checkValidity()")
        assert await page.inner_text("#action-result") == ""  # nothing was sent
        assert await commands("Reset") == []
        await page.check(f"{hard} input[name=confirm]")
        await page.click(f"{hard} button")
        await page.wait_for_selector('#action-result.ok:text("LIVE_HR_JS answered Reset")')
        assert not await page.is_checked(f"{hard} input[name=confirm]")  # ask again next time
        sent = await commands("Reset")
        assert [(c.station_id, c.payload) for c in sent] == [("LIVE_HR_JS", {"type": "Hard"})]
        await context.close()

        # Without JavaScript: the same form posts itself, and the box is still required.
        context, page = await signed_in(browser, live_daphne, javascript=False)
        station_url = f"{live_daphne.http_url}/stations/LIVE_HR_NOJS/"
        await page.goto(station_url)
        await page.click(f"{hard} button")
        assert page.url == station_url
        assert len(await commands("Reset")) == 1
        await page.check(f"{hard} input[name=confirm]")
        await page.click(f"{hard} button")
        await page.wait_for_url("**/stations/LIVE_HR_NOJS/actions/reset/")
        assert await page.inner_text("#action-result") == (
            'LIVE_HR_NOJS answered Reset: {"status": "Accepted"}'
        )
        assert [c.station_id for c in await commands("Reset")] == ["LIVE_HR_JS", "LIVE_HR_NOJS"]
        await shot(page, "16-hard-reset-without-javascript")
        await context.close()


async def test_a_hard_reset_from_the_admin_asks_first(live_daphne, browser):
    await database_sync_to_async(get_user_model().objects.create_superuser)(
        "operator", password="s3cret-pass"
    )
    await register("LIVE_ADMIN")
    async with online(live_daphne, "LIVE_ADMIN"):
        context, page = await signed_in(browser, live_daphne)
        await page.goto(f"{live_daphne.http_url}/admin/stations/station/")
        await page.check('input[name="_selected_action"][value="LIVE_ADMIN"]')
        await page.select_option("select[name=action]", "hard_reset_stations")
        await page.click("button[name=index]")
        await page.wait_for_selector('h1:text("Hard reset: are you sure?")')
        assert "LIVE_ADMIN — online" in await page.inner_text("#hard-reset-stations")
        assert await commands("Reset") == []  # nothing until it is confirmed
        await shot(page, "17-admin-hard-reset-confirmation")
        await page.click('input[type=submit][value="Yes, hard reset"]')
        await page.wait_for_selector('.messagelist .success:text("LIVE_ADMIN answered Reset")')
        sent = await commands("Reset")
        assert [(c.station_id, c.payload, c.source) for c in sent] == [
            ("LIVE_ADMIN", {"type": "Hard"}, "admin")
        ]

        # Taken back: nothing is sent.
        await page.check('input[name="_selected_action"][value="LIVE_ADMIN"]')
        await page.select_option("select[name=action]", "hard_reset_stations")
        await page.click("button[name=index]")
        await page.click("text=No, take me back")
        await page.wait_for_selector("#changelist")
        assert len(await commands("Reset")) == 1
        await context.close()


# --- 5. One time zone, labelled, and the same words live as after a reload -------------------------

ZONE = "Asia/Kolkata"  # +05:30 all year, abbreviated IST


@pytest.fixture(scope="module")
def kolkata_daphne(django_db_setup, django_db_blocker):
    """A server whose TIME_ZONE is not UTC, for a browser in yet another zone."""
    with django_db_blocker.unblock():
        server = AsgiServer("daphne", env={"TIME_ZONE": ZONE}).start()
    yield server
    server.stop()


async def test_times_and_words_are_the_same_live_as_after_a_reload(kolkata_daphne, browser):
    await prepare()
    await register("LIVE_TZ")
    server = kolkata_daphne
    context, page = await signed_in(browser, server, timezone_id="America/New_York")
    async with online(server, "LIVE_TZ", connectors=2, meter_interval=0.5) as station:
        await visit(page, server, "/stations/LIVE_TZ/")
        reserve = 'form[data-action="reserve"]'
        await page.fill(f"{reserve} input[name=id_token]", "DRIVER-1")
        await page.fill(f"{reserve} input[name=evse_id]", "2")
        await page.click(f"{reserve} button")
        await page.wait_for_selector('#action-result.ok:text("answered ReserveNow")')
        reservation = await Reservation.objects.aget(station_id="LIVE_TZ")
        expires = reservation.expires_at.astimezone(ZoneInfo(ZONE)).strftime("%H:%M IST")
        row = f'#reservation-table tr[data-reservation="{reservation.pk}"]'
        await page.wait_for_selector(f'{row} [data-field="status"] .badge:text-is("Accepted")')
        assert expires in await page.inner_text(row)

        await station.start_transaction(1, "DRIVER-1")
        await page.wait_for_selector("#active-transactions [data-transaction]")
        tx = await transaction_of("LIVE_TZ")
        started = tx.started_at.astimezone(ZoneInfo(ZONE))
        label = await page.inner_text("#active-transactions .label")
        assert label.endswith(f"since {started:%H:%M:%S} IST")
        recent = 'section:has(h2:text("Recent transactions")) table'
        await page.wait_for_selector(f'{recent}:has-text("{started:%Y-%m-%d %H:%M:%S} IST")')
        await station.stop_transaction(1)
        await page.wait_for_selector("#no-active")
        for stamp in await page.locator(".log time").all_inner_texts():
            assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} IST", stamp), stamp
        await shot(page, "18-station-times-in-one-zone")
        await same_as_after_a_reload(
            page, "#reservation-table", recent, 'p[data-field="connectors"]'
        )

        await visit(page, server, "/transactions/")
        await page.wait_for_selector(f'tr[data-transaction="{tx.pk}"][data-active="false"]')
        assert f"{started:%Y-%m-%d %H:%M:%S} IST" in await page.inner_text(
            f'tr[data-transaction="{tx.pk}"]'
        )
        await visit(page, server, "/reservations/")
        assert f"{expires[:-4]}" in await page.inner_text(
            f'tr[data-reservation="{reservation.pk}"]'
        )
        assert await page.inner_text("#time-zone") == f"times in {ZONE}"
    await context.close()


# --- 6. The configuration page ------------------------------------------------------------------


async def test_an_operator_reads_and_changes_a_stations_configuration(live_daphne, browser):
    """The configuration page of a 2.0.1 station: ask for its report, find a variable, change it
    in its row and see the station's answer and the new value; an out-of-range value is refused
    with the station's own limit, before anything is sent; a RebootRequired change is flagged."""
    await prepare()
    await register("LIVE_CONF")
    context, page = await signed_in(browser, live_daphne)
    async with online(live_daphne, "LIVE_CONF", protocol="2.0.1") as station:
        await visit(page, live_daphne, "/stations/LIVE_CONF/configuration/")
        await page.wait_for_selector("#no-variables")
        await page.click('form[data-action="base-report"] button')
        await page.wait_for_selector("#action-result.ok")
        # The report's parts arrive after the answer: the tree is re-rendered live as they do.
        row = 'tr[data-variable="OCPPCommCtrlr.HeartbeatInterval"]'
        await page.wait_for_selector(row)
        await shot(page, "20-configuration")

        await page.fill("input[name=q]", "heartbeat")
        await page.click("form.filters button")
        await page.wait_for_selector(row)
        assert await page.locator("#configuration-tree tbody tr").count() == 1

        await page.fill(f"{row} input[name=value]", "100000")
        await page.click(f"{row} button")
        await page.wait_for_selector("#action-result.error")
        assert "must be at most 86400" in await page.inner_text("#action-result")
        assert station.device.settings["HeartbeatInterval"].value == "300"

        await page.fill(f"{row} input[name=value]", "120")
        await page.click(f"{row} button")
        await page.wait_for_selector("#action-result.ok")
        await page.wait_for_selector(f'{row} [data-field="value"] code:text("120")')
        assert station.device.settings["HeartbeatInterval"].value == "120"
        await page.wait_for_selector('#changes tr:has-text("HeartbeatInterval") :text("Accepted")')

        ping = 'tr[data-variable="OCPPCommCtrlr.WebSocketPingInterval"]'
        await page.fill("input[name=q]", "ping")
        await page.click("form.filters button")
        await page.fill(f"{ping} input[name=value]", "60")
        await page.click(f"{ping} button")
        await page.wait_for_selector(f'{ping} [data-field="reboot"]')
        await page.reload()
        await page.wait_for_selector("#reboot-badge")
        await shot(page, "21-configuration-reboot-required")
    await context.close()
