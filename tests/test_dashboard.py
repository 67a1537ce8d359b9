"""The operator dashboard: who may see it, what its pages show, that nothing a station sends can
run in the operator's browser, its buttons (each one the exact OCPP CALL the station receives), and
the live socket that keeps the pages current."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import AsyncClient, Client, override_settings
from django.utils import timezone
from django.utils.html import escape

from csms_site.asgi import application
from reservations.models import Reservation
from stations import events
from stations.clock import ocpp_time
from stations.models import Command, Connector, MessageLog, MeterSample, Station, Transaction
from tests.ocpp_client import status_payload

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = ["/", "/stations/", "/stations/CP_1/", "/transactions/", "/reservations/", "/summary.json"]
XSS = '"><script>alert(1)</script>'
ESCAPED_XSS = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
ACCEPTED = {"status": "Accepted"}
T0 = datetime(2026, 1, 18, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def empty_event_buffer():
    events.buffer.take()
    yield
    events.buffer.take()


@pytest.fixture
def staff(transactional_db):
    return get_user_model().objects.create_user("operator", password="pw", is_staff=True)


@pytest.fixture
def driver(transactional_db):
    return get_user_model().objects.create_user("driver", password="pw")


@pytest.fixture
def operator_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
async def operator(staff) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(staff)
    return client


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def staff_session(staff) -> str:
    return session_of(staff)


def html(response) -> str:
    assert response.status_code == 200, response
    return response.content.decode()


def stations_listed(page: str) -> list[str]:
    return re.findall(r'<tr data-station="([^"]+)"', page)


def transactions_listed(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-transaction="(\d+)"', page)]


def reservations_listed(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-reservation="(\d+)"', page)]


def meter_series(page: str) -> dict:
    match = re.search(
        r'<script id="meter-series" type="application/json">(.*?)</script>', page, re.S
    )
    assert match, "the station page embeds the chart series"
    return json.loads(match.group(1))


def make_transaction(station: str, *, minutes_ago: int = 0, **fields) -> Transaction:
    fields.setdefault("evse_id", 1)
    return Transaction.objects.create(
        station_id=station, started_at=timezone.now() - timedelta(minutes=minutes_ago), **fields
    )


def make_reservation(station: str, **fields) -> Reservation:
    fields.setdefault("evse_id", 1)
    fields.setdefault("id_token", "CARD-R")
    fields.setdefault("status", Reservation.Status.ACCEPTED)
    return Reservation.objects.create(
        station_id=station, expires_at=timezone.now() + timedelta(hours=1), **fields
    )


# --- 1. Access ---------------------------------------------------------------------------------


@pytest.fixture
def cp1(transactional_db) -> Station:
    return Station.objects.create(id="CP_1")


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page_and_back(cp1, url):
    response = Client().get(url)
    assert (response.status_code, response["Location"]) == (302, f"/login/?next={url}")


@pytest.mark.parametrize("url", PAGES)
def test_drivers_are_forbidden_every_page(cp1, driver, url):
    client = Client()
    client.force_login(driver)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", PAGES)
def test_operators_see_every_page(cp1, operator_client, url):
    response = operator_client.get(url)
    assert response.status_code == 200
    if url != "/summary.json":
        assert "Log out operator" in response.content.decode()


def test_an_unknown_station_is_404(cp1, operator_client):
    assert operator_client.get("/stations/NOBODY/").status_code == 404


def test_the_login_page_signs_an_operator_in_and_opens_the_overview(staff):
    client = Client()
    form = html(client.get("/login/"))
    assert 'name="username"' in form and 'name="password"' in form
    assert 'name="csrfmiddlewaretoken"' in form
    response = client.post("/login/", {"username": "operator", "password": "pw"})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/").status_code == 200


def test_the_login_page_returns_to_the_page_asked_for(staff):
    response = Client().post(
        "/login/", {"username": "operator", "password": "pw", "next": "/stations/"}
    )
    assert (response.status_code, response["Location"]) == (302, "/stations/")


def test_a_wrong_password_stays_on_the_login_page_with_an_error(staff):
    client = Client()
    page = html(client.post("/login/", {"username": "operator", "password": "nope"}))
    assert "password didn't match" in page
    assert client.get("/").status_code == 302


def test_logging_out_is_a_post_and_ends_the_session(operator_client):
    assert operator_client.get("/logout/").status_code == 405
    assert operator_client.get("/").status_code == 200  # a GET did not log out
    response = operator_client.post("/logout/")
    assert (response.status_code, response["Location"]) == (302, "/login/")
    assert operator_client.get("/").status_code == 302


# --- 2. Content --------------------------------------------------------------------------------


def test_the_overview_counts_stations_connectors_sessions_and_todays_energy(operator_client):
    Station.objects.create(id="CP_A", connected=True)
    Station.objects.create(id="CP_B", connected=True)
    Station.objects.create(id="CP_C", connected=False)
    Station.objects.create(id="CP_D", connected=False, status="Faulted")  # 1.6 connector 0
    Station.objects.create(id="CP_E", connected=True)  # no connector has reported
    Connector.objects.create(station_id="CP_A", evse_id=1, status="Charging")
    Connector.objects.create(station_id="CP_B", evse_id=1, status="Available")
    Connector.objects.create(station_id="CP_C", evse_id=1, status="Faulted")
    make_transaction("CP_A", energy_wh=12_300)  # charging now
    make_transaction("CP_B", energy_wh=5_000, is_active=False)  # finished today
    yesterday = timezone.now() - timedelta(days=1, hours=1)
    # Still charging since yesterday: a session, but not today's energy.
    Transaction.objects.create(
        station_id="CP_C",
        evse_id=1,
        started_at=yesterday,
        energy_wh=9_999,
        flagged_at=timezone.now(),
        flag_reason="StationOffline",
    )

    summary = operator_client.get("/summary.json").json()
    assert summary == {
        "stations": 5,
        "connected": 3,
        "offline": 2,
        "faulted": 2,
        "connectors": {"Available": 1, "Charging": 1, "Faulted": 1},
        "active_transactions": 2,
        "flagged_transactions": 1,
        "energy_today_kwh": 17.3,
    }
    page = html(operator_client.get("/"))
    for key, value in [
        ("connected", 3),
        ("offline", 2),
        ("faulted", 2),
        ("active_transactions", 2),
        ("energy_today_kwh", 17.3),
    ]:
        assert f'data-summary="{key}">{value}</span>' in page
    for badge in ("Available: 1", "Charging: 1", "Faulted: 1"):
        assert badge in page
    assert stations_listed(page) == ["CP_A", "CP_B", "CP_C", "CP_D", "CP_E"]
    assert '<p class="empty" id="no-stations" hidden>' in page


def test_a_station_with_several_connectors_counts_once_online(operator_client):
    Station.objects.create(id="CP_A", connected=True)
    Station.objects.create(id="CP_B", connected=False)
    for evse in (1, 2, 3):
        Connector.objects.create(station_id="CP_A", evse_id=evse, status="Available")
        Connector.objects.create(station_id="CP_B", evse_id=evse, status="Available")
    summary = operator_client.get("/summary.json").json()
    assert (summary["stations"], summary["connected"], summary["offline"]) == (2, 1, 1)


def test_an_empty_network_explains_how_to_connect_a_station(operator_client):
    page = html(operator_client.get("/"))
    assert '<p class="empty" id="no-stations" >' in page  # shown, not hidden
    assert "ws://testserver/ocpp/" in page and "manage.py emulate" in page
    assert "No connector has reported yet." in page
    assert operator_client.get("/summary.json").json() == {
        "stations": 0,
        "connected": 0,
        "offline": 0,
        "faulted": 0,
        "connectors": {},
        "active_transactions": 0,
        "flagged_transactions": 0,
        "energy_today_kwh": 0,
    }


@pytest.fixture
def network(transactional_db):
    Station.objects.create(id="CP_ALPHA", vendor="RalphCo", model="Wallbox", connected=True)
    Station.objects.create(id="CP_BETA", vendor="Acme", model="Box", connected=False)
    Station.objects.create(id="CP_GAMMA", vendor="Acme", model="Pole", connected=True)
    Station.objects.create(id="CP_DELTA", vendor="Other", connected=False, status="Faulted")
    Connector.objects.create(station_id="CP_ALPHA", evse_id=1, status="Available")
    Connector.objects.create(station_id="CP_BETA", evse_id=1, status="Faulted")
    Connector.objects.create(station_id="CP_GAMMA", evse_id=1, status="Available")
    Connector.objects.create(station_id="CP_GAMMA", evse_id=2, status="Available")
    Connector.objects.create(station_id="CP_GAMMA", evse_id=3, status="Charging")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["CP_ALPHA", "CP_BETA", "CP_DELTA", "CP_GAMMA"]),
        ("q=ralph", ["CP_ALPHA"]),
        ("q=POLE", ["CP_GAMMA"]),
        ("q=cp_b", ["CP_BETA"]),
        ("q=nothing-like-it", []),
        ("state=connected", ["CP_ALPHA", "CP_GAMMA"]),
        ("state=offline", ["CP_BETA", "CP_DELTA"]),
        ("state=faulted", ["CP_BETA", "CP_DELTA"]),
        ("state=Available", ["CP_ALPHA", "CP_GAMMA"]),
        ("state=Charging", ["CP_GAMMA"]),
        ("q=acme&state=connected", ["CP_GAMMA"]),
        ("q=acme&state=faulted", ["CP_BETA"]),
    ],
)
def test_the_station_list_searches_and_filters(network, operator_client, query, expected):
    page = html(operator_client.get(f"/stations/?{query}"))
    assert stations_listed(page) == expected


def test_the_station_list_keeps_the_chosen_filter_and_shows_every_connector(
    network, operator_client
):
    page = html(operator_client.get("/stations/?q=acme&state=Available"))
    assert 'name="q" value="acme"' in page
    assert '<option value="Available" selected>' in page
    gamma = page[page.index('<tr data-station="CP_GAMMA"') :]
    gamma = gamma[: gamma.index("</tr>")]
    assert re.findall(r'data-evse="(\d+)"', gamma) == ["1", "2", "3"]
    assert "3 · Charging" in gamma


def test_the_station_page_shows_connectors_the_session_reservations_and_the_log(
    operator_client, staff
):
    station = Station.objects.create(
        id="CP_1", connected=True, protocol="1.6", vendor="RalphCo", model="Wallbox XYZ"
    )
    Connector.objects.create(station=station, evse_id=2, status="Available")
    Connector.objects.create(station=station, evse_id=1, status="Charging")
    finished = make_transaction("CP_1", minutes_ago=90, id_token="OLD", is_active=False)
    active = make_transaction(
        "CP_1", minutes_ago=10, id_token="CARD-42", meter_start_wh=10_000, energy_wh=1_500
    )
    reservation = make_reservation("CP_1", evse_id=2, id_token="CARD-RES", user=staff)
    used = make_reservation("CP_1", id_token="CARD-USED", status=Reservation.Status.USED)
    frame = json.dumps([2, "m1", "DataTransfer", {"vendorId": "RalphCo", "data": "hi"}])
    MessageLog.objects.create(
        station_id="CP_1",
        direction="in",
        message_type=2,
        action="DataTransfer",
        unique_id="m1",
        frame=frame,
        created_at=timezone.now(),
    )
    MessageLog.objects.create(
        station_id="CP_OTHER", direction="in", message_type=2, frame="[2]", created_at=T0
    )

    page = html(operator_client.get("/stations/CP_1/"))
    assert "RalphCo Wallbox XYZ" in page and "OCPP 1.6J" in page
    found = re.search(r'data-field="connectors">(.*?)</p>', page, re.S)
    assert found is not None, page
    connectors = found.group(1)
    assert re.findall(r'data-evse="(\d+)"', connectors) == ["1", "2"]
    assert "1 · Charging" in connectors and "2 · Available" in connectors
    card = page[page.index(f'<div class="card wide" data-transaction="{active.pk}">') :]
    assert "CARD-42" in card[: card.index("</div>")]
    assert '<span data-field="energy">1500</span> Wh' in card
    assert f'data-transaction="{finished.pk}">' not in page  # finished: no live card
    assert f'<option value="{active.pk}">' in page  # remote stop offers the active session
    assert reservations_listed(page) == [used.pk, reservation.pk]
    row = page[page.index(f'<tr data-reservation="{reservation.pk}">') :]
    row = row[: row.index("</tr>")]
    assert "CARD-RES" in row and "res-accepted" in row
    assert f'name="reservation_id" value="{reservation.pk}"' in row
    assert f'name="reservation_id" value="{used.pk}"' not in page  # a used one is not cancelled
    assert re.search(r'<details id="log-\d+"><summary>', page) and "<b>DataTransfer</b>" in page
    assert f"<pre>{escape(frame)}</pre></details>" in page
    assert page.count("<details ") == 1  # only this station's frames


def test_the_chart_series_is_the_active_sessions_energy_since_meter_start(operator_client):
    Station.objects.create(id="CP_1", connected=True)
    old = make_transaction("CP_1", minutes_ago=600, is_active=False, meter_start_wh=0)
    active = make_transaction("CP_1", minutes_ago=60, meter_start_wh=10_000)
    t = [T0 + timedelta(minutes=m) for m in range(4)]

    def sample(tx, when, value, measurand="Energy.Active.Import.Register", unit="Wh"):
        MeterSample.objects.create(
            station_id="CP_1",
            transaction=tx,
            evse_id=1,
            timestamp=when,
            measurand=measurand,
            unit=unit,
            value=value,
        )

    sample(active, t[0], 10_000)
    sample(active, t[1], 10_500)
    sample(active, t[1], 7_400, "Power.Active.Import", "W")
    sample(active, t[2], 11.5, unit="kWh")
    sample(active, t[2], 3.7, "Power.Active.Import", "kW")
    sample(active, t[3], 230, "Voltage", "V")  # not charted
    sample(old, t[3], 99_000)  # another session

    page = html(operator_client.get("/stations/CP_1/"))
    assert 'id="meter-chart"' in page and f'data-transaction="{active.pk}"' in page
    assert meter_series(page) == {
        "energy": [[t[0].isoformat(), 0.0], [t[1].isoformat(), 0.5], [t[2].isoformat(), 1.5]],
        "power": [[t[1].isoformat(), 7.4], [t[2].isoformat(), 3.7]],
    }


def test_without_any_session_the_chart_series_is_empty(cp1, operator_client):
    page = html(operator_client.get("/stations/CP_1/"))
    assert meter_series(page) == {"energy": [], "power": []}
    assert "No charging session right now." in page and "No frames yet." in page


def test_the_transaction_list_filters_by_station_and_state(operator_client):
    Station.objects.create(id="CP_1")
    Station.objects.create(id="CP_2")
    charging = make_transaction("CP_1", minutes_ago=1)
    done_1 = make_transaction("CP_1", minutes_ago=20, is_active=False)
    done_2 = make_transaction("CP_2", minutes_ago=30, is_active=False)

    def listed(query: str) -> list[int]:
        return transactions_listed(html(operator_client.get(f"/transactions/?{query}")))

    assert listed("") == [charging.pk, done_1.pk, done_2.pk]  # newest first
    assert listed("station=CP_1") == [charging.pk, done_1.pk]
    assert listed("active=yes") == [charging.pk]
    assert listed("active=no") == [done_1.pk, done_2.pk]
    assert listed("station=CP_2&active=no") == [done_2.pk]
    assert listed("station=CP_2&active=yes") == []
    assert listed("station=NOBODY") == []
    page = html(operator_client.get("/transactions/?station=CP_2&active=no"))
    assert 'name="station" value="CP_2"' in page and '<option value="no" selected>' in page


def test_the_reservation_list_filters_by_station_and_status(operator_client):
    Station.objects.create(id="CP_1")
    Station.objects.create(id="CP_2")
    accepted = make_reservation("CP_1")
    cancelled = make_reservation("CP_1", status=Reservation.Status.CANCELLED)
    other = make_reservation("CP_2")

    def listed(query: str) -> list[int]:
        return reservations_listed(html(operator_client.get(f"/reservations/?{query}")))

    assert listed("") == [other.pk, cancelled.pk, accepted.pk]  # newest first
    assert listed("station=CP_1") == [cancelled.pk, accepted.pk]
    assert listed("status=accepted") == [other.pk, accepted.pk]
    assert listed("station=CP_1&status=cancelled") == [cancelled.pk]
    assert listed("status=expired") == []
    page = html(operator_client.get("/reservations/?status=cancelled"))
    assert '<option value="cancelled" selected>' in page


def test_the_reservation_list_expires_what_is_due_before_showing_it(cp1, operator_client):
    due = make_reservation("CP_1")
    Reservation.objects.filter(pk=due.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert reservations_listed(html(operator_client.get("/reservations/?status=expired"))) == [
        due.pk
    ]


def test_transaction_pages_keep_their_filters(operator_client):
    Station.objects.create(id="CP_1")
    Station.objects.create(id="CP_2")
    base = timezone.now() - timedelta(days=1)
    Transaction.objects.bulk_create(
        Transaction(
            station_id="CP_1", evse_id=1, started_at=base + timedelta(minutes=i), is_active=False
        )
        for i in range(60)
    )
    make_transaction("CP_2", is_active=False)
    make_transaction("CP_1")

    first = html(operator_client.get("/transactions/?station=CP_1&active=no"))
    assert len(transactions_listed(first)) == 50 and "page 1 of 2" in first
    assert 'href="?station=CP_1&amp;active=no&amp;page=2"' in first
    second = html(operator_client.get("/transactions/?station=CP_1&active=no&page=2"))
    assert len(transactions_listed(second)) == 10 and "page 2 of 2" in second
    assert 'href="?station=CP_1&amp;active=no&amp;page=1"' in second
    both = set(transactions_listed(first)) | set(transactions_listed(second))
    assert both == set(
        Transaction.objects.filter(station_id="CP_1", is_active=False).values_list("pk", flat=True)
    )
    # A page number out of range or not a number still shows a page.
    assert "page 2 of 2" in html(operator_client.get("/transactions/?station=CP_1&page=99"))
    assert "page 1 of 2" in html(operator_client.get("/transactions/?station=CP_1&page=x"))


def test_station_pages_keep_a_search_with_spaces_and_ampersands(operator_client):
    Station.objects.bulk_create(
        Station(id=f"CP_{i:03}", vendor="Volt & Co" if i % 2 else "Acme") for i in range(220)
    )
    first = html(operator_client.get("/stations/", {"q": "volt & co", "state": "offline"}))
    assert len(stations_listed(first)) == 100 and "page 1 of 2" in first
    assert 'href="?q=volt%20%26%20co&amp;state=offline&amp;page=2"' in first
    second = html(
        operator_client.get("/stations/", {"q": "volt & co", "state": "offline", "page": 2})
    )
    assert stations_listed(second) == [f"CP_{i:03}" for i in range(201, 220, 2)]


def test_reservation_pages_keep_their_filters(operator_client):
    Station.objects.create(id="CP_1")
    for _ in range(51):
        make_reservation("CP_1", status=Reservation.Status.CANCELLED)
    make_reservation("CP_1")
    first = html(operator_client.get("/reservations/?station=CP_1&status=cancelled"))
    assert len(reservations_listed(first)) == 50
    assert 'href="?station=CP_1&amp;status=cancelled&amp;page=2"' in first
    second = html(operator_client.get("/reservations/?station=CP_1&status=cancelled&page=2"))
    assert len(reservations_listed(second)) == 1


# --- 2b. One time zone, labelled; the regions live.js re-renders ------------------------------


@override_settings(TIME_ZONE="Asia/Kolkata")
def test_every_time_is_in_the_configured_zone_and_labelled(operator_client, staff):
    """12:00 UTC is 17:30 in Kolkata (IST, no daylight saving): every page says so."""
    Station.objects.create(
        id="CP_1", connected=True, last_boot_at=T0, last_heartbeat_at=T0 + timedelta(seconds=5)
    )
    Transaction.objects.create(
        station_id="CP_1",
        evse_id=1,
        started_at=T0,
        stopped_at=T0 + timedelta(hours=1),
        is_active=False,
    )
    Transaction.objects.create(station_id="CP_1", evse_id=2, started_at=T0)
    reservation = make_reservation("CP_1")
    Reservation.objects.filter(pk=reservation.pk).update(expires_at=T0 + timedelta(minutes=15))
    MessageLog.objects.create(
        station_id="CP_1",
        direction="in",
        message_type=2,
        action="Heartbeat",
        frame="[2]",
        created_at=T0 + timedelta(microseconds=123_456),
    )

    station = html(operator_client.get("/stations/CP_1/"))
    assert "times in Asia/Kolkata" in station
    assert "<dd>2026-01-18 17:30:00 IST</dd>" in station  # last boot
    assert "<dd>2026-01-18 17:30:05 IST</dd>" in station  # last heartbeat
    assert "since 17:30:00 IST" in station  # the session card
    assert "<td>2026-01-18 18:30:00 IST</td>" in station  # recent: stopped
    assert "<td>17:45 IST</td>" in station  # the reservation expires
    assert "<time>17:30:00.123 IST</time>" in station  # the message log
    transactions = html(operator_client.get("/transactions/"))
    assert transactions.count("<td>2026-01-18 17:30:00 IST</td>") == 2
    assert "<td>2026-01-18 18:30:00 IST</td>" in transactions
    assert "<td>2026-01-18 17:45:00 IST</td>" in html(operator_client.get("/reservations/"))
    assert 'title="2026-01-18 17:30:05 IST"' in html(operator_client.get("/stations/"))
    for page in (station, transactions):
        assert "UTC" not in page and "noon" not in page


def test_reservation_statuses_read_the_same_on_the_station_page_and_the_list(operator_client):
    Station.objects.create(id="CP_1")
    make_reservation("CP_1", status=Reservation.Status.NO_RESPONSE)
    for url in ("/stations/CP_1/", "/reservations/"):
        assert '<span class="badge res-no_response">no response</span>' in html(
            operator_client.get(url)
        )


LIVE_REGIONS = {
    "/": ["open-alerts", "station-list"],
    "/stations/": ["station-list"],
    "/transactions/": ["transaction-list"],
    "/reservations/": ["reservation-list"],
    "/stations/CP_1/": [
        "station-connection",
        "station-facts",
        "station-connectors",
        "active-transactions",
        "chart-caption",
        "charging-profiles",
        "charging-context",
        "remote-stop-target",
        "station-reservations",
        "recent-transactions",
        "message-log",
    ],
    "/stations/CP_1/security/": [
        "security-facts",
        "open-alerts",
        "security-events",
        "signed-certificates",
        "installed-certificates",
        "firmware-updates",
        "log-requests",
    ],
    "/firmware/": ["campaigns"],
    "/stations/CP_1/configuration/": [
        "configuration-tree",
        "open-alerts",
        "monitors",
        "notices",
        "display-messages",
        "customer-requests",
        "reports",
        "changes",
    ],
}


@pytest.mark.parametrize("url", LIVE_REGIONS)
def test_each_page_marks_the_regions_live_js_re_renders(cp1, operator_client, url):
    page = html(operator_client.get(url))
    regions = re.findall(r'id="([^"]+)"[^>]*? data-live-region', page)
    assert regions == LIVE_REGIONS[url]
    assert "station-row-template" not in page  # rows are never built in the browser


def test_a_re_render_sends_the_chart_series_only_when_the_chart_must_switch(operator_client):
    Station.objects.create(id="CP_1")
    old = make_transaction("CP_1", minutes_ago=60, is_active=False)
    active = make_transaction("CP_1", minutes_ago=5)

    def page(charting: str | None) -> str:
        headers = {} if charting is None else {"X-Live-Refresh": "1", "X-Live-Charting": charting}
        response = operator_client.get("/stations/CP_1/", headers=headers)
        assert "X-Live-Charting" in response["Vary"]
        return html(response)

    assert 'id="meter-series"' in page(None)  # a first load
    assert 'id="meter-series"' in page(str(old.pk))  # the chart shows another session
    assert 'id="meter-series"' in page("")
    unchanged = page(str(active.pk))
    assert 'id="meter-series"' not in unchanged
    assert f'id="chart-caption" data-live-region data-charting="{active.pk}"' in unchanged


def test_the_session_card_shows_the_last_reported_power(operator_client):
    Station.objects.create(id="CP_1", connected=True)
    tx = make_transaction("CP_1")
    for offset, value, unit in ((0, 7400, "W"), (1, 3.7, "kW")):
        MeterSample.objects.create(
            station_id="CP_1",
            transaction=tx,
            evse_id=1,
            timestamp=T0 + timedelta(minutes=offset),
            measurand="Power.Active.Import",
            unit=unit,
            value=value,
        )
    page = html(operator_client.get("/stations/CP_1/"))
    assert '<span data-field="power">3.70</span> kW' in page


def test_the_overview_lists_its_first_50_stations_and_says_so(operator_client):
    Station.objects.bulk_create(Station(id=f"CP_{i:03}") for i in range(70))
    page = html(operator_client.get("/"))
    assert stations_listed(page) == [f"CP_{i:03}" for i in range(50)]
    assert "The first 50 of 70 stations" in page
    Station.objects.filter(id__gte="CP_050").delete()
    assert "The first" not in html(operator_client.get("/"))


def test_an_empty_filtered_list_says_no_station_matches(network, operator_client):
    page = html(operator_client.get("/stations/?q=nothing-like-it"))
    assert "No station matches the filter." in page and "manage.py emulate" not in page


def test_rows_carry_what_live_js_compares(operator_client):
    Station.objects.create(id="CP_1")
    charging = make_transaction("CP_1")
    done = make_transaction("CP_1", is_active=False, minutes_ago=5)
    page = html(operator_client.get("/transactions/"))
    assert f'<tr data-transaction="{charging.pk}" data-active="true">' in page
    assert f'<tr data-transaction="{done.pk}" data-active="false">' in page


# --- 3. Escaping -------------------------------------------------------------------------------


@pytest.fixture
def hostile_station(transactional_db, staff):
    """A safe identity, with everything the station reports (or a driver types) hostile."""
    station = Station.objects.create(
        id="CP_X",
        connected=True,
        protocol="1.6",
        vendor=XSS,
        model=XSS,
        firmware_version=XSS,
        serial_number=XSS,
        status=XSS,
        error_code=XSS,
    )
    Connector.objects.create(station=station, evse_id=1, status="Faulted", error_code=XSS, info=XSS)
    make_transaction("CP_X", id_token=XSS, stop_reason=XSS, is_active=False, minutes_ago=5)
    make_transaction("CP_X", id_token=XSS)
    make_reservation("CP_X", id_token=XSS)
    frame = json.dumps([2, "x1", "DataTransfer", {"vendorId": "x", "data": XSS}])
    MessageLog.objects.create(
        station_id="CP_X",
        direction="in",
        message_type=2,
        action=XSS,
        unique_id="x1",
        frame=frame,
        created_at=timezone.now(),
    )
    return station


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/stations/",
        "/stations/CP_X/",
        "/transactions/",
        "/reservations/",
        "/stations/?q=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
        "/transactions/?station=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
        "/reservations/?station=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
    ],
)
def test_what_stations_send_is_shown_escaped_never_as_markup(hostile_station, operator_client, url):
    page = html(operator_client.get(url))
    assert "<script>alert" not in page
    assert ESCAPED_XSS in page


def test_the_station_page_escapes_every_reported_field(hostile_station, operator_client):
    page = html(operator_client.get("/stations/CP_X/"))
    assert page.count(ESCAPED_XSS) >= 9  # vendor, model, serial, firmware, status, token, ...
    assert f'title="{ESCAPED_XSS} {ESCAPED_XSS}"' in page  # connector error code and info
    assert f"<b>{ESCAPED_XSS}</b>" in page  # the logged action
    assert escape(json.dumps(XSS)[1:-1]) in page  # the DataTransfer frame


def test_the_chart_series_cannot_break_out_of_its_script_tag(cp1, operator_client, monkeypatch):
    make_transaction("CP_1")
    hostile = {"energy": [["</script><script>alert(1)</script>", 1.0]], "power": []}
    monkeypatch.setattr("dashboard.queries.meter_series", lambda transaction: hostile)
    page = html(operator_client.get("/stations/CP_1/"))
    assert "</script><script>alert" not in page
    assert meter_series(page) == hostile  # the first </script> is the real end of the data


# --- 4. Actions --------------------------------------------------------------------------------


def act(client, action: str, form: dict | None = None, station: str = "CP_1"):
    return client.post(f"/stations/{station}/actions/{action}/", form or {})


async def answered(station, client, action: str, form: dict, answer: dict):
    """Post the button, receive the CALL at the station, answer it: (the CALL, the response)."""
    request = asyncio.create_task(act(client, action, form))
    call = await station.receive()
    assert call[0] == 2, call
    await station.send([3, call[1], answer])
    return call, await request


def answered_json(action: str, answer: dict, what: str | None = None) -> dict:
    return {
        "ok": True,
        "level": "ok",
        "outcome": "answered",
        "message": f"CP_1 answered {what or action}: {json.dumps(answer)}",
        "answer": answer,
    }


# button -> (action, form, {version: (OCPP action, payload)}, the station's answer)
BUTTONS: dict[
    str, tuple[str, dict[str, str], dict[str, tuple[str, dict[str, Any]]], dict[str, Any]]
] = {
    "reset-hard": (
        "reset",
        {"type": "hard", "confirm": "yes"},
        {"1.6": ("Reset", {"type": "Hard"}), "2.0.1": ("Reset", {"type": "Immediate"})},
        ACCEPTED,
    ),
    "reset-soft": (
        "reset",
        {"type": "soft"},
        {"1.6": ("Reset", {"type": "Soft"}), "2.0.1": ("Reset", {"type": "OnIdle"})},
        ACCEPTED,
    ),
    "unlock": (
        "unlock",
        {"evse_id": "2"},
        {
            "1.6": ("UnlockConnector", {"connectorId": 2}),
            "2.0.1": ("UnlockConnector", {"evseId": 2, "connectorId": 1}),
        },
        {"status": "Unlocked"},
    ),
    "availability-station": (
        "availability",
        {"evse_id": "0", "state": "inoperative"},
        {
            "1.6": ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
            "2.0.1": ("ChangeAvailability", {"operationalStatus": "Inoperative"}),
        },
        {"status": "Scheduled"},
    ),
    "availability-evse": (
        "availability",
        {"evse_id": "1", "state": "operative"},
        {
            "1.6": ("ChangeAvailability", {"connectorId": 1, "type": "Operative"}),
            "2.0.1": (
                "ChangeAvailability",
                {"operationalStatus": "Operative", "evse": {"id": 1}},
            ),
        },
        ACCEPTED,
    ),
    "trigger": (
        "trigger",
        {"message": "StatusNotification"},
        {
            "1.6": ("TriggerMessage", {"requestedMessage": "StatusNotification"}),
            "2.0.1": ("TriggerMessage", {"requestedMessage": "StatusNotification"}),
        },
        ACCEPTED,
    ),
}


@pytest.mark.parametrize("button", BUTTONS)
async def test_a_button_sends_its_command_and_shows_the_stations_answer(
    booted, operator, version, button
):
    action, form, expected, answer = BUTTONS[button]
    ocpp_action, payload = expected[version]
    call, response = await answered(booted, operator, action, form, answer)
    assert call[2:] == [ocpp_action, payload]
    assert response.status_code == 200
    assert response.json() == answered_json(ocpp_action, answer)
    command = await Command.objects.select_related("requested_by").aget()
    assert (command.action, command.source, getattr(command.requested_by, "username", None)) == (
        ocpp_action,
        "dashboard",
        "operator",
    )
    assert (command.payload, command.outcome, command.response) == (payload, "answered", answer)


async def test_remote_start_sends_the_token_and_evse(booted, operator, version):
    form = {"id_token": "CARD-1", "evse_id": "2"}
    call, response = await answered(booted, operator, "remote-start", form, ACCEPTED)
    action, payload = call[2:]
    if version == "1.6":
        assert (action, payload) == (
            "RemoteStartTransaction",
            {"idTag": "CARD-1", "connectorId": 2},
        )
    else:
        assert isinstance(payload.pop("remoteStartId"), int)
        assert (action, payload) == (
            "RequestStartTransaction",
            {"idToken": {"idToken": "CARD-1", "type": "Central"}, "evseId": 2},
        )
    assert response.json() == answered_json(action, ACCEPTED)


async def test_remote_stop_sends_the_active_transactions_id(booted, operator, version):
    tx = await database_sync_to_async(make_transaction)(
        "CP_1", ocpp_id=None if version == "1.6" else "f3a9c2-tx"
    )
    page = (await operator.get("/stations/CP_1/")).content.decode()
    assert f'<option value="{tx.transaction_id}">' in page  # what the button offers
    form = {"transaction_id": tx.transaction_id}
    call, response = await answered(booted, operator, "remote-stop", form, ACCEPTED)
    if version == "1.6":
        assert call[2:] == ["RemoteStopTransaction", {"transactionId": tx.pk}]
    else:
        assert call[2:] == ["RequestStopTransaction", {"transactionId": "f3a9c2-tx"}]
    assert response.json() == answered_json(call[2], ACCEPTED)


async def test_reserve_claims_the_evse_and_sends_reserve_now(booted, operator, version):
    before = timezone.now()
    form = {"id_token": "CARD-9", "evse_id": "1", "minutes": "30"}
    call, response = await answered(booted, operator, "reserve", form, ACCEPTED)
    reservation = await Reservation.objects.select_related("user").aget()
    assert (reservation.status, getattr(reservation.user, "username", None)) == (
        "accepted",
        "operator",
    )
    assert timedelta(minutes=30) <= reservation.expires_at - before <= timedelta(minutes=31)
    expiry = ocpp_time(reservation.expires_at)
    payload: dict[str, Any]
    if version == "1.6":
        payload = {
            "connectorId": 1,
            "expiryDate": expiry,
            "idTag": "CARD-9",
            "reservationId": reservation.pk,
        }
    else:
        payload = {
            "id": reservation.pk,
            "expiryDateTime": expiry,
            "idToken": {"idToken": "CARD-9", "type": "ISO14443"},
            "evseId": 1,
        }
    assert call[2:] == ["ReserveNow", payload]
    assert response.json() == answered_json("ReserveNow", ACCEPTED, f"ReserveNow #{reservation.pk}")


async def test_cancel_reservation_sends_its_id_and_cancels_it(booted, operator):
    reservation = await database_sync_to_async(make_reservation)("CP_1")
    form = {"reservation_id": str(reservation.pk)}
    call, response = await answered(booted, operator, "cancel-reservation", form, ACCEPTED)
    assert call[2:] == ["CancelReservation", {"reservationId": reservation.pk}]
    assert response.json() == answered_json(
        "CancelReservation", ACCEPTED, f"CancelReservation #{reservation.pk}"
    )
    assert (await Reservation.objects.aget()).status == "cancelled"


async def test_a_button_for_a_station_that_is_not_connected_says_so(make_station, operator):
    await make_station("CP_1")
    response = await act(operator, "reset", {"type": "hard", "confirm": "yes"})
    assert (response.status_code, response.json()) == (
        200,
        {
            "ok": False,
            "level": "error",
            "outcome": "not_connected",
            "answer": None,
            "message": "CP_1 is not connected",
        },
    )
    assert (await Command.objects.aget()).outcome == "not_connected"


async def test_reserving_at_a_station_that_is_not_connected_is_refused(make_station, operator):
    await make_station("CP_1")
    response = await act(operator, "reserve", {"id_token": "CARD-9", "evse_id": "1"})
    assert response.status_code == 409
    assert response.json() == {
        "ok": False,
        "level": "error",
        "outcome": "refused",
        "message": "No such Charge Point. [CP_1]",
    }
    assert not await Reservation.objects.aexists()


@pytest.mark.parametrize(
    ("action", "form", "message"),
    [
        ("explode", {}, "Unknown action: explode"),
        ("remote-start", {"evse_id": "1"}, "id_token is required"),
        ("remote-start", {"id_token": "  ", "evse_id": "1"}, "id_token is required"),
        ("reserve", {"evse_id": "1", "minutes": "15"}, "id_token is required"),
        ("reserve", {"id_token": "CARD-9", "minutes": "0"}, "minutes must be between 1 and 1440"),
        ("unlock", {"evse_id": "one"}, "evse_id must be a number"),
        ("remote-stop", {}, "transaction_id is required"),
        ("trigger", {}, "message is required"),
    ],
)
async def test_an_incomplete_or_unknown_action_is_400_and_nothing_is_sent(
    booted, operator, action, form, message
):
    response = await act(operator, action, form)
    assert (response.status_code, response.json()) == (
        400,
        {"ok": False, "level": "error", "outcome": "refused", "message": message},
    )
    assert "currentTime" in await booted.heartbeat()  # the next frame is our own: nothing was sent
    assert not await Command.objects.aexists()
    assert not await Reservation.objects.aexists()


def test_cancelling_another_stations_reservation_is_404_and_nothing_is_sent(cp1, operator_client):
    Station.objects.create(id="CP_2")
    elsewhere = make_reservation("CP_2")
    form = {"reservation_id": str(elsewhere.pk)}
    assert act(operator_client, "cancel-reservation", form).status_code == 404
    assert act(operator_client, "cancel-reservation", {}).status_code == 400  # id missing
    assert not Command.objects.exists()
    assert Reservation.objects.get().status == "accepted"


@pytest.mark.parametrize("reservation_id", ["", "abc"])
def test_a_reservation_id_that_is_not_a_number_is_400(cp1, staff, reservation_id):
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    response = act(client, "cancel-reservation", {"reservation_id": reservation_id})
    assert response.status_code == 400
    assert response.json()["ok"] is False and "reservation_id" in response.json()["message"]


async def test_an_action_on_an_unknown_station_is_404(operator, transactional_db):
    assert (await act(operator, "reset", {}, station="NOBODY")).status_code == 404


async def test_drivers_and_anonymous_users_cannot_press_buttons(booted, driver):
    client = AsyncClient()
    await client.aforce_login(driver)
    assert (await act(client, "reset", {"type": "hard"})).status_code == 403
    response = await act(AsyncClient(), "reset", {"type": "hard"})
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/stations/CP_1/actions/reset/"
    assert "currentTime" in await booted.heartbeat()  # nothing was sent
    assert not await Command.objects.aexists()


def test_a_get_on_an_action_is_405(cp1, operator_client):
    assert operator_client.get("/stations/CP_1/actions/reset/").status_code == 405
    assert not Command.objects.exists()


def test_buttons_need_the_csrf_token(cp1, staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert act(client, "reset", {"type": "hard"}).status_code == 403
    assert not Command.objects.exists()
    assert client.get("/stations/CP_1/").status_code == 200
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/stations/CP_1/actions/reset/", {"type": "soft"}, headers={"X-CSRFToken": token}
    )
    assert (response.status_code, response.json()["outcome"]) == (200, "not_connected")
    response = act(client, "reset", {"type": "soft", "csrfmiddlewaretoken": token})
    assert (response.status_code, response.json()["outcome"]) == (200, "not_connected")


DECLINED: dict[str, dict[str, Any]] = {
    "1.6": {"status": "Rejected"},
    "2.0.1": {
        "status": "Rejected",
        "statusInfo": {"reasonCode": "UnknownEvse", "additionalInfo": "EVSE 9 <none>"},
    },
}


async def test_a_station_declining_a_command_is_a_warning_not_a_success(booted, operator, version):
    form = {"evse_id": "9", "state": "inoperative"}
    _, response = await answered(booted, operator, "availability", form, DECLINED[version])
    reason = " (reason: UnknownEvse — EVSE 9 <none>)" if version == "2.0.1" else ""
    assert response.json() == {
        "ok": False,
        "level": "warning",
        "outcome": "answered",
        "answer": DECLINED[version],
        "message": f"CP_1 did not accept ChangeAvailability: Rejected{reason}",
    }
    assert (await Command.objects.aget()).outcome == "answered"


@pytest.mark.parametrize(
    ("action", "form", "status"),
    [
        ("unlock", {"evse_id": "1"}, "UnlockFailed"),
        ("trigger", {"message": "MeterValues"}, "NotImplemented"),
        ("remote-start", {"id_token": "CARD-1", "evse_id": "1"}, "Rejected"),
    ],
)
async def test_every_status_but_a_yes_is_a_warning(booted, operator, action, form, status):
    _, response = await answered(booted, operator, action, form, {"status": status})
    body = response.json()
    assert (body["ok"], body["level"]) == (False, "warning")
    assert body["message"].endswith(f": {status}")


@pytest.mark.parametrize("form", [{"type": "hard"}, {"type": "hard", "confirm": "no"}, {}])
async def test_a_hard_reset_without_its_confirmation_is_400_and_nothing_is_sent(
    booted, operator, form
):
    response = await act(operator, "reset", form)
    assert (response.status_code, response.json()) == (
        400,
        {
            "ok": False,
            "level": "error",
            "outcome": "refused",
            "message": "A hard reset interrupts charging: tick the box to confirm it",
        },
    )
    assert "currentTime" in await booted.heartbeat()  # the next frame is our own: nothing was sent
    assert not await Command.objects.aexists()


def test_the_hard_reset_button_needs_its_box_ticked_even_without_javascript(cp1, operator_client):
    page = html(operator_client.get("/stations/CP_1/"))
    found = re.search(r'<form[^>]*class="danger"[^>]*>.*?</form>', page, re.S)
    assert found is not None, page
    hard = found.group(0)
    assert 'method="post" action="/stations/CP_1/actions/reset/"' in hard
    assert 'name="csrfmiddlewaretoken"' in hard
    assert '<input type="hidden" name="type" value="hard">' in hard
    assert '<input type="checkbox" name="confirm" value="yes" required>' in hard
    for form in re.findall(r"<form[^>]*data-action=[^>]*>", page):
        assert 'method="post"' in form and 'action="/stations/CP_1/actions/' in form


def test_a_button_pressed_without_javascript_gets_a_page(cp1, operator_client):
    accept = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    response = operator_client.post(
        "/stations/CP_1/actions/reset/", {"type": "hard"}, headers=accept
    )
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert '<p class="result error" id="action-result">A hard reset interrupts charging' in page
    assert 'href="/stations/CP_1/"' in page
    response = operator_client.post(
        "/stations/CP_1/actions/reset/", {"type": "hard", "confirm": "yes"}, headers=accept
    )
    assert response.status_code == 200
    assert "CP_1 is not connected" in response.content.decode()


# --- 5. The live socket ------------------------------------------------------------------------


def dashboard_socket(
    session: str | None = None, origin: bytes | None = b"http://testserver"
) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin))
    if session is not None:
        headers.append((b"cookie", f"sessionid={session}".encode()))
    return WebsocketCommunicator(application, "/ws/dashboard/", headers=headers)


async def refused(communicator: WebsocketCommunicator) -> bool:
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return not connected


async def next_event(communicator: WebsocketCommunicator, kind: str, **match) -> dict:
    """Read batches until an event of `kind` with the given fields arrives."""
    while True:
        message = await communicator.receive_json_from(timeout=5)
        for event in message["events"]:
            if event["kind"] == kind and match.items() <= event.items():
                return event


async def test_an_anonymous_socket_is_refused(transactional_db):
    assert await refused(dashboard_socket())


async def test_a_socket_with_a_forged_session_is_refused(transactional_db):
    assert await refused(dashboard_socket("not-a-session-key"))


async def test_a_drivers_socket_is_refused(driver):
    session = await database_sync_to_async(session_of)(driver)
    assert await refused(dashboard_socket(session))


@pytest.mark.parametrize("origin", [b"http://evil.example", None])
async def test_a_socket_from_another_origin_is_refused(staff_session, origin):
    assert await refused(dashboard_socket(staff_session, origin=origin))


async def test_an_operators_socket_receives_committed_events(staff_session):
    communicator = dashboard_socket(staff_session)
    connected, _ = await communicator.connect(timeout=5)
    assert connected

    def change() -> None:
        with transaction.atomic():
            events.publish("connector", station="CP_9", evse_id=1, status="Faulted")

    await database_sync_to_async(change)()
    await events.flush()
    assert await communicator.receive_json_from(timeout=5) == {
        "events": [{"kind": "connector", "station": "CP_9", "evse_id": 1, "status": "Faulted"}]
    }
    await communicator.disconnect()


async def test_a_station_starting_to_charge_shows_on_the_dashboard_live(
    booted, version, staff_session
):
    communicator = dashboard_socket(staff_session)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    charging = "Charging" if version == "1.6" else "Occupied"  # 2.0.1 has no Charging status
    await booted.result("StatusNotification", status_payload(version, 1, charging))
    event = await next_event(communicator, "connector", station="CP_1")
    assert (event["evse_id"], event["connector_id"], event["status"]) == (1, 1, charging)
    await booted.close()
    assert await next_event(communicator, "station", id="CP_1", connected=False)
    await communicator.disconnect()
