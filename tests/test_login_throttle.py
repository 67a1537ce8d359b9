"""Failed station logins are rate-limited per identity and per address."""

from __future__ import annotations

import pytest
from django.test import override_settings

from stations import throttle
from stations.models import Station
from tests.ocpp_client import OcppTestClient

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "the-right-password-01"


@pytest.fixture(autouse=True)
def fresh_throttles():
    throttle.by_identity.clear()
    throttle.by_address.clear()
    yield
    throttle.by_identity.clear()
    throttle.by_address.clear()


@override_settings(OCPP_LOGIN_FAILURE_LIMIT=3, OCPP_LOGIN_FAILURE_WINDOW=60)
async def test_after_the_limit_even_the_right_password_is_refused_without_touching_the_database(
    make_station,
):
    await make_station("CP_1", password=PASSWORD)
    for _ in range(3):
        _, connected, _ = await OcppTestClient.open("CP_1", password="wrong-password-00000")
        assert not connected
    assert (await Station.objects.aget(pk="CP_1")).failed_logins == 3
    for password in ("wrong-password-00000", PASSWORD):
        _, connected, _ = await OcppTestClient.open("CP_1", password=password)
        assert not connected
    # Throttled attempts are refused before the database: the count did not move.
    assert (await Station.objects.aget(pk="CP_1")).failed_logins == 3


@override_settings(OCPP_LOGIN_FAILURE_LIMIT=3, OCPP_LOGIN_FAILURE_WINDOW=60)
async def test_the_limit_applies_per_address_across_identities(make_station):
    for i in range(4):
        await make_station(f"CP_{i}", password=PASSWORD)
    for i in range(3):
        _, connected, _ = await OcppTestClient.open(f"CP_{i}", password="wrong-password-00000")
        assert not connected
    # A fourth identity, right password, same address: refused until the window passes.
    _, connected, _ = await OcppTestClient.open("CP_3", password=PASSWORD)
    assert not connected
    throttle.by_address.clear()  # the window has passed
    _, connected, _ = await OcppTestClient.open("CP_3", password=PASSWORD)
    assert connected


@override_settings(OCPP_LOGIN_FAILURE_LIMIT=3, OCPP_LOGIN_FAILURE_WINDOW=60)
async def test_a_flood_of_bad_logins_does_not_disturb_a_live_station(make_station):
    await make_station("LIVE", password=PASSWORD)
    await make_station("TARGET", password=PASSWORD)
    live, connected, _ = await OcppTestClient.open("LIVE", password=PASSWORD)
    assert connected
    await live.boot()
    throttle.by_address.clear()
    for _ in range(50):
        _, connected, _ = await OcppTestClient.open("TARGET", password="wrong-password-00000")
        assert not connected
    assert "currentTime" in await live.heartbeat()
    assert (await Station.objects.aget(pk="TARGET")).failed_logins == 3  # the rest cost nothing
    await live.close()


def test_a_success_clears_the_identitys_failures():
    with override_settings(OCPP_LOGIN_FAILURE_LIMIT=2, OCPP_LOGIN_FAILURE_WINDOW=60):
        throttle.by_identity.failure("CP_1")
        throttle.by_identity.success("CP_1")
        throttle.by_identity.failure("CP_1")
        assert not throttle.by_identity.blocked("CP_1")
        throttle.by_identity.failure("CP_1")
        assert throttle.by_identity.blocked("CP_1")


def test_the_throttle_forgets_failures_after_the_window(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(throttle.time, "monotonic", lambda: clock[0])
    with override_settings(OCPP_LOGIN_FAILURE_LIMIT=2, OCPP_LOGIN_FAILURE_WINDOW=60):
        throttle.by_address.failure("10.0.0.1")
        throttle.by_address.failure("10.0.0.1")
        assert throttle.by_address.blocked("10.0.0.1")
        clock[0] += 61
        assert not throttle.by_address.blocked("10.0.0.1")
