"""Who may connect, with which protocol version, and which socket is the live one."""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass

import pytest
from channels.testing import ApplicationCommunicator
from django.test import override_settings

from csms_site.asgi import application
from stations.models import Station, StationEvent
from tests.ocpp_client import OcppTestClient

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "s3cret-station-key-01"


# --- a handshake as the ASGI server hands it over, with the status the station would see ----------


@dataclass
class Answer:
    status: int  # 101 accepted; what a denial-capable server sends; 403 for daphne's plain close
    body: bytes
    headers: dict[bytes, bytes]
    communicator: ApplicationCommunicator

    async def close(self) -> None:
        """Disconnect as the server would, and let the application finish."""
        with contextlib.suppress(Exception):
            await self.communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        try:
            await self.communicator.wait(5)
        except TimeoutError:
            self.communicator.stop(exceptions=False)


def basic(username: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{username}:{password}".encode())


async def handshake(
    path: str,
    *,
    authorization: bytes | None = None,
    subprotocols: tuple[str, ...] = ("ocpp2.0.1",),
    headers: tuple[tuple[bytes, bytes], ...] = (),
    address: str = "10.0.0.1",
    denial: bool = True,
) -> Answer:
    """One WebSocket handshake through the whole ASGI application (router included), from
    `address`. `denial`: the server supports the Denial Response extension (uvicorn); without it
    (daphne) a refusal is a plain close, which daphne turns into 403."""
    all_headers = list(headers)
    if authorization is not None:
        all_headers.append((b"authorization", authorization))
    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": b"",
        "headers": all_headers,
        "subprotocols": list(subprotocols),
        "client": (address, 40000),
        "server": ("127.0.0.1", 8000),
        "extensions": {"websocket.http.response": {}} if denial else {},
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "websocket.connect"})
    first = await communicator.receive_output(10)
    if first["type"] == "websocket.accept":
        return Answer(101, b"", {}, communicator)
    if first["type"] == "websocket.close":
        return Answer(403, b"", {}, communicator)
    assert first["type"] == "websocket.http.response.start", first
    body = await communicator.receive_output(5)
    return Answer(first["status"], body.get("body", b""), dict(first["headers"]), communicator)


async def status_of(path: str, **kwargs) -> int:
    answer = await handshake(path, **kwargs)
    await answer.close()
    return answer.status


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


# --- unrouted and malformed handshakes: refused with a 4xx, never a 500 -----------------------------


@pytest.mark.parametrize(
    "path", ["/CP_1", "/", "/ocpp/", "/ocpp/CP_1/extra", "/ocpp/3.0/CP_1", "/ws/CP_1", "/a/b/c/d"]
)
async def test_a_websocket_path_we_do_not_serve_is_refused_with_404_before_the_upgrade(
    make_station, path
):
    await make_station("CP_1")
    answer = await handshake(path)
    await answer.close()
    assert answer.status == 404
    assert b"/ocpp/<identity>" in answer.body  # the body names the endpoint
    # daphne cannot send a status of its own: a plain close before the upgrade (its 403).
    assert await status_of(path, denial=False) == 403


async def test_the_served_paths_still_work_next_to_the_catch_all(make_station):
    await make_station("CP_1")
    for path in ("/ocpp/CP_1", "/ocpp/CP_1/", "/ocpp/2.0.1/CP_1"):
        assert await status_of(path) == 101, path


@pytest.mark.parametrize(
    ("authorization", "problem"),
    [
        (b"Basic !!!not-base64!!!", "not base64"),
        (b"Basic " + base64.b64encode(b"CP_1" + PASSWORD.encode()), "no ':'"),
        (b"Basic ", "no ':'"),
        (b"Bearer " + PASSWORD.encode(), "not the Basic scheme"),
        (b"Basic " + base64.b64encode(b"\xff\xfe:" + PASSWORD.encode()), "not UTF-8"),
    ],
    ids=["not-base64", "no-colon", "empty-credentials", "other-scheme", "username-not-utf8"],
)
@pytest.mark.parametrize("keyed", [True, False], ids=["with-password", "without-password"])
async def test_a_malformed_authorization_header_is_refused_with_401_and_recorded(
    make_station, authorization, problem, keyed
):
    """A station that sends a header means to authenticate: one we cannot read is refused and
    recorded like a wrong password, even for a station without a password (Security Profile 0)."""
    await make_station("CP_1", password=PASSWORD if keyed else None)
    answer = await handshake("/ocpp/CP_1", authorization=authorization)
    await answer.close()
    assert answer.status == 401
    assert answer.headers[b"www-authenticate"].startswith(b"Basic")
    event = await StationEvent.objects.aget(station_id="CP_1", type="InvalidCredentials")
    assert problem in event.message and "Malformed Authorization header" in event.message
    assert (await Station.objects.aget(pk="CP_1")).failed_logins == 1


async def test_an_empty_authorization_header_counts_as_no_credentials(make_station):
    await make_station("CP_OPEN")
    await make_station("CP_1", password=PASSWORD)
    assert await status_of("/ocpp/CP_OPEN", authorization=b"") == 101
    assert await status_of("/ocpp/CP_1", authorization=b"  ") == 401


@pytest.mark.parametrize(
    "identity",
    ["C" * 49, "C" * 4000, "CP%201", "CP 1", "\u00e9t\u00e9", "CP\x00", "..%2f..", "CP:1"],
)
async def test_an_invalid_or_over_long_identity_is_refused_with_400(transactional_db, identity):
    with override_settings(OCPP_AUTO_REGISTER=True):
        assert await status_of(f"/ocpp/{identity}") == 400
        assert await status_of(f"/ocpp/1.6/{identity}", subprotocols=("ocpp1.6",)) == 400
    assert not await Station.objects.exclude(pk="").aexists()


@pytest.mark.parametrize(
    "subprotocols",
    [(), ("",), ("ocpp2.0.1, ocpp1.6",), ("ocpp2.0.1\x00",), ("OCPP2.0.1",), ("x" * 5000,)],
    ids=["none", "empty", "one-joined-string", "nul", "upper-case", "long"],
)
async def test_a_garbled_subprotocol_offer_is_refused_with_400(make_station, subprotocols):
    await make_station("CP_1")
    assert await status_of("/ocpp/CP_1", subprotocols=subprotocols) == 400


async def test_a_duplicated_subprotocol_offer_is_served(make_station):
    await make_station("CP_1")
    answer = await handshake("/ocpp/CP_1", subprotocols=("ocpp1.6", "ocpp1.6", " ocpp1.6 "))
    assert answer.status == 101
    await answer.close()
