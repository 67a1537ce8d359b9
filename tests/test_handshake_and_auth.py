"""Who may connect, with which protocol version, and which socket is the live one."""

from __future__ import annotations

import pytest
from django.test import override_settings

from stations.models import Station, StationEvent
from tests.ocpp_client import OcppTestClient

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "s3cret-station-key-01"


@pytest.mark.parametrize(
    ("offer", "chosen"),
    [
        (["ocpp2.0.1"], "ocpp2.0.1"),
        (["ocpp1.6"], "ocpp1.6"),
        (["ocpp0.1", "ocpp2.0.1"], "ocpp2.0.1"),
        (["ocpp1.6", "ocpp2.0.1"], "ocpp1.6"),
    ],
)
async def test_it_picks_the_first_supported_version_the_station_offers(make_station, offer, chosen):
    await make_station("CP_1")
    client, connected, subprotocol = await OcppTestClient.open("CP_1", subprotocols=offer)
    assert connected and subprotocol == chosen
    await client.close()


async def test_it_refuses_an_offer_with_no_supported_version(make_station):
    await make_station("CP_1")
    _, connected, _ = await OcppTestClient.open("CP_1", subprotocols=["ocpp0.1", "ocpp2.1"])
    assert not connected


async def test_it_refuses_a_handshake_without_any_subprotocol_on_the_generic_url(make_station):
    await make_station("CP_1")
    _, connected, _ = await OcppTestClient.open("CP_1", subprotocols=[])
    assert not connected


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_versioned_url_accepts_only_its_own_version(make_station, version):
    await make_station("CP_1")
    other = "ocpp2.0.1" if version == "1.6" else "ocpp1.6"
    path = f"/ocpp/{version}/CP_1"
    _, connected, _ = await OcppTestClient.open("CP_1", subprotocols=[other], path=path)
    assert not connected
    client, connected, subprotocol = await OcppTestClient.open("CP_1", version, path=path)
    assert connected and subprotocol == f"ocpp{version}"
    assert (await client.boot())["status"] == "Accepted"
    await client.close()


async def test_a_versioned_url_accepts_a_legacy_station_that_offers_nothing(make_station):
    await make_station("CP_1")
    client, connected, _ = await OcppTestClient.open(
        "CP_1", "1.6", subprotocols=[], path="/ocpp/1.6/CP_1"
    )
    assert connected
    assert (await client.boot())["status"] == "Accepted"
    await client.close()


@pytest.mark.parametrize("identity", ["a" * 49, "CP:1", "CP%201", "CP 1", "<script>"])
async def test_it_refuses_identities_that_are_not_safe(transactional_db, identity):
    with override_settings(OCPP_AUTO_REGISTER=True):
        _, connected, _ = await OcppTestClient.open(identity)
    assert not connected
    assert not await Station.objects.filter(pk=identity).aexists()


async def test_an_identity_of_48_characters_is_accepted(make_station):
    await make_station("C" * 48)
    client, connected, _ = await OcppTestClient.open("C" * 48)
    assert connected
    await client.close()


async def test_an_unknown_station_is_refused_without_auto_registration(transactional_db):
    _, connected, _ = await OcppTestClient.open("CP_NEW")
    assert not connected
    assert not await Station.objects.filter(pk="CP_NEW").aexists()
    assert await StationEvent.objects.filter(station_id="CP_NEW", type="UnknownStation").aexists()


@override_settings(OCPP_AUTO_REGISTER=True)
async def test_an_unknown_station_is_registered_when_auto_registration_is_on(transactional_db):
    client, connected, _ = await OcppTestClient.open("CP_NEW")
    assert connected
    assert (await client.boot())["status"] == "Accepted"
    station = await Station.objects.aget(pk="CP_NEW")
    assert station.connected and station.vendor == "RalphCo"
    await client.close()


async def test_the_right_password_is_accepted(make_station, version):
    await make_station("CP_1", password=PASSWORD)
    client, connected, _ = await OcppTestClient.open("CP_1", version, password=PASSWORD)
    assert connected
    assert (await client.boot())["status"] == "Accepted"
    await client.close()


@pytest.mark.parametrize(
    ("username", "password"),
    [("CP_1", "wrong-password-000000"), ("CP_2", PASSWORD), ("CP_1", None)],
    ids=["wrong-password", "other-username", "no-credentials"],
)
async def test_bad_credentials_are_refused_and_recorded(make_station, username, password):
    await make_station("CP_1", password=PASSWORD)
    _, connected, _ = await OcppTestClient.open("CP_1", password=password, username=username)
    assert not connected
    station = await Station.objects.aget(pk="CP_1")
    assert station.failed_logins == 1 and not station.connected
    assert await StationEvent.objects.filter(station_id="CP_1", type="InvalidCredentials").aexists()


@override_settings(OCPP_REQUIRE_PASSWORD=True)
async def test_a_station_without_password_is_refused_when_passwords_are_required(make_station):
    await make_station("CP_1")
    _, connected, _ = await OcppTestClient.open("CP_1")
    assert not connected


async def test_the_password_is_stored_hashed_and_salted(make_station):
    first = await make_station("CP_1", password=PASSWORD)
    second = await make_station("CP_2", password=PASSWORD)
    assert PASSWORD not in first.password_hash
    assert first.password_hash.startswith("sha256$")
    assert first.password_hash != second.password_hash


# --- boot-order rule -------------------------------------------------------------------------------


async def test_calls_before_boot_get_a_security_error_and_the_connection_lives(
    make_station, version
):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", version)
    answer = await client.call("Heartbeat", {})
    assert answer[0] == 4 and answer[2] == "SecurityError"
    assert (await client.boot())["status"] == "Accepted"
    assert "currentTime" in await client.heartbeat()
    await client.close()


@pytest.mark.parametrize("registration", ["Pending", "Rejected"])
async def test_a_pending_or_rejected_station_may_only_boot(make_station, version, registration):
    await make_station("CP_1", registration=registration)
    client, _, _ = await OcppTestClient.open("CP_1", version)
    boot = await client.boot()
    assert boot["status"] == registration and boot["interval"] > 0
    for action, payload in [("Heartbeat", {}), ("Authorize", _authorize(version))]:
        answer = await client.call(action, payload)
        assert answer[0] == 4 and answer[2] == "SecurityError", answer
    # Boot is always allowed, and the connection is still alive.
    assert (await client.boot())["status"] == registration
    await client.close()


async def test_the_boot_answer_follows_the_registration_status(make_station, version, db_run):
    await make_station("CP_1", registration="Pending")
    client, _, _ = await OcppTestClient.open("CP_1", version)
    assert (await client.boot())["status"] == "Pending"
    await Station.objects.filter(pk="CP_1").aupdate(registration_status="Accepted")
    boot = await client.boot()
    assert boot["status"] == "Accepted" and boot["interval"] == 300
    await client.close()


async def test_a_station_accepted_before_may_reconnect_without_booting(make_station, version):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", version)
    await client.boot()
    await client.close()
    client, _, _ = await OcppTestClient.open("CP_1", version)
    assert "currentTime" in await client.heartbeat()
    await client.close()


def _authorize(version: str) -> dict:
    if version == "1.6":
        return {"idTag": "TAG1"}
    return {"idToken": {"idToken": "TAG1", "type": "ISO14443"}}


# --- second connection rule ------------------------------------------------------------------------


async def test_an_authenticated_second_connection_replaces_the_first(make_station, version):
    await make_station("CP_1", password=PASSWORD)
    first, _, _ = await OcppTestClient.open("CP_1", version, password=PASSWORD)
    await first.boot()
    second, connected, _ = await OcppTestClient.open("CP_1", version, password=PASSWORD)
    assert connected
    closed = await first.communicator.receive_output(timeout=5)
    assert closed == {
        "type": "websocket.close",
        "code": 4000,
        "reason": "Replaced by a newer connection",
    }
    assert "currentTime" in await second.heartbeat()
    station = await Station.objects.aget(pk="CP_1")
    assert station.connected and station.session == 2
    assert await StationEvent.objects.filter(station_id="CP_1", type="ConnectionReplaced").aexists()
    await second.close()
    assert not (await Station.objects.aget(pk="CP_1")).connected


async def test_an_unauthenticated_newcomer_never_displaces_the_live_connection(make_station):
    await make_station("CP_1", password=PASSWORD)
    first, _, _ = await OcppTestClient.open("CP_1", password=PASSWORD)
    await first.boot()
    _, connected, _ = await OcppTestClient.open("CP_1", password="not-the-password-00")
    assert not connected
    # The live socket still answers, and the database still names it.
    assert "currentTime" in await first.heartbeat()
    station = await Station.objects.aget(pk="CP_1")
    assert station.connected and station.session == 1
    await first.close()


async def test_the_old_socket_closing_late_does_not_mark_the_new_one_offline(make_station):
    await make_station("CP_1")
    first, _, _ = await OcppTestClient.open("CP_1")
    second, _, _ = await OcppTestClient.open("CP_1")
    await first.communicator.receive_output(timeout=5)  # closed by the takeover
    await first.close()
    assert (await Station.objects.aget(pk="CP_1")).connected
    await second.close()
