"""Sites and circuits (issue 18, "Sites and circuits with limits"): every station belongs to a
site — the default one until it is placed elsewhere —, a site holds a tree of circuits each with a
current or power limit; REST and the admin refuse what breaks those rules, and the sites page
shows each site's tree and stations."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from sites import services
from sites.models import Circuit, Site
from stations.models import Station

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def operator() -> AsyncClient:
    await get_user_model().objects.acreate_user(
        "op", password="pw", is_staff=True, is_superuser=True
    )
    browser = AsyncClient()
    await browser.alogin(username="op", password="pw")
    return browser


async def post(
    browser: AsyncClient, url: str, body: dict, method: str = "post"
) -> tuple[int, dict]:
    response = await getattr(browser, method)(url, body, content_type="application/json")
    return response.status_code, response.json() if response.content else {}


async def test_every_station_is_in_the_default_site_until_it_is_placed(operator):
    # Made by the migration, and again whenever it is missing (a test database flushed).
    default = await database(services.default_site)
    await Station.objects.acreate(id="S_1")
    response = await operator.get("/api/stations/S_1/placement/")
    assert response.status_code == 200
    assert response.json() == {"station": "S_1", "site": default.pk, "circuit": None, "priority": 0}

    status, site = await post(
        operator,
        "/api/sites/",
        {
            "name": "Depot",
            "city": "Utrecht",
            "country": "NL",
            "time_zone": "Europe/Amsterdam",
            "latitude": "52.09",
            "longitude": "5.12",
        },
    )
    assert status == 201, site
    status, main = await post(
        operator, "/api/circuits/", {"site": site["id"], "name": "Main", "limit_a": 63, "phases": 3}
    )
    assert status == 201, main
    status, feeder = await post(
        operator,
        "/api/circuits/",
        {"site": site["id"], "parent": main["id"], "name": "Feeder A", "limit_w": 22000},
    )
    assert status == 201, feeder
    status, placed = await post(
        operator,
        "/api/stations/S_1/placement/",
        {"site": site["id"], "circuit": feeder["id"], "priority": 2},
        "put",
    )
    assert status == 200 and placed == {
        "station": "S_1",
        "site": site["id"],
        "circuit": feeder["id"],
        "priority": 2,
    }
    assert (await Site.objects.aget(pk=site["id"])).name == (
        await database(services.site_of, "S_1")
    ).name

    page = (await operator.get("/sites/")).content.decode()
    assert f'data-circuit="{feeder["id"]}"' in page and "└ Feeder A" in page and "63.0 A" in page
    assert "/stations/S_1/" in page


async def database(function, *args):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(function)(*args)


async def test_what_breaks_the_rules_is_refused(operator):
    status, body = await post(operator, "/api/sites/", {"name": "X", "time_zone": "Mars/Olympus"})
    assert status == 400 and "Unknown time zone" in str(body)
    status, body = await post(operator, "/api/sites/", {"name": "Y", "latitude": "95"})
    assert status == 400 and "latitude" in str(body)
    _, one = await post(operator, "/api/sites/", {"name": "One"})
    _, two = await post(operator, "/api/sites/", {"name": "Two"})
    status, body = await post(operator, "/api/circuits/", {"site": one["id"], "name": "Nothing"})
    assert status == 400 and "current limit, a power limit" in str(body)
    _, a = await post(operator, "/api/circuits/", {"site": one["id"], "name": "A", "limit_a": 32})
    status, body = await post(
        operator,
        "/api/circuits/",
        {"site": two["id"], "parent": a["id"], "name": "B", "limit_a": 16},
    )
    assert status == 400 and "another site" in str(body)
    _, b = await post(
        operator,
        "/api/circuits/",
        {"site": one["id"], "parent": a["id"], "name": "B", "limit_a": 16},
    )
    status, body = await post(operator, f"/api/circuits/{a['id']}/", {"parent": b["id"]}, "patch")
    assert status == 400 and "inside itself" in str(body)
    status, body = await post(
        operator, "/api/circuits/", {"site": one["id"], "name": "Neg", "limit_a": -1}
    )
    assert status == 400

    await Station.objects.acreate(id="S_2")
    status, body = await post(
        operator, "/api/stations/S_2/placement/", {"site": two["id"], "circuit": a["id"]}, "put"
    )
    assert status == 400 and "another site" in body["message"]
    await post(
        operator, "/api/stations/S_2/placement/", {"site": one["id"], "circuit": a["id"]}, "put"
    )
    assert (await operator.delete(f"/api/sites/{one['id']}/")).status_code == 409  # it holds S_2
    default = await database(services.default_site)
    response = await operator.delete(f"/api/sites/{default.pk}/")
    assert response.status_code == 409 and "default site" in response.json()["message"]
    assert await Circuit.objects.filter(site_id=one["id"]).acount() == 2


async def test_the_admin_manages_sites(operator):
    page = await operator.get("/admin/charging_sites/site/add/")
    assert page.status_code == 200 and "Circuits" in page.content.decode()
    default = await database(services.default_site)
    page = (await operator.get(f"/admin/charging_sites/site/{default.pk}/change/")).content.decode()
    assert f"/admin/charging_sites/site/{default.pk}/delete/" not in page  # it cannot be deleted
