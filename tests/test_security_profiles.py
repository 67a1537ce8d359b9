"""Security profiles 2 and 3 over real TLS (OCPP 2.0.1 Part 2 A00, the 1.6 security whitepaper):
uvicorn terminating TLS with certificates made for the test by a real CA, stations connecting with
real client certificates — the right CA, a wrong CA, expired, a CN that is not the identity — and
the profile each station is registered at deciding what it may connect with (no downgrade).
"""

from __future__ import annotations

import datetime
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from websockets.exceptions import InvalidHandshake, InvalidStatus

from stations import certificates
from stations.models import Station, StationEvent
from stations.passwords import make_station_password
from stations.security import ConnectionSecurity, common_name, from_scope, profile_problem
from tests.ocpp_client import connect_ws
from tests.servers import ROOT, AsgiServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

PASSWORD = "tls-station-key-0001"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, tuple[Path, Path] | Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca = certificates.authority("Test CA")
    ca.write(folder, "ca")
    wrong = certificates.authority("Another CA")
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
    return {
        "ca": folder / "ca.pem",
        "server": certificates.server(ca, ["127.0.0.1", "localhost"]).write(folder, "server"),
        "P3": certificates.station(ca, "P3").write(folder, "P3"),
        "P3-wrong-ca": certificates.station(wrong, "P3").write(folder, "P3-wrong-ca"),
        "P3-expired": certificates.station(ca, "P3", days=1, start=past).write(folder, "P3-old"),
        "OTHER": certificates.station(ca, "OTHER").write(folder, "OTHER"),
    }


@pytest.fixture(scope="module")
def tls_uvicorn(pki, django_db_setup, django_db_blocker):
    """uvicorn with TLS: client certificates optional (profile 2 stations have none), verified
    against the test CA when presented."""
    cert, key = pki["server"]
    args = [
        "--ssl-certfile", str(cert), "--ssl-keyfile", str(key),
        "--ssl-ca-certs", str(pki["ca"]), "--ssl-cert-reqs", str(int(ssl.CERT_OPTIONAL)),
    ]  # fmt: skip
    with django_db_blocker.unblock():
        server = AsgiServer("uvicorn", args=args).start()
    yield server
    server.stop()


def wss(server: AsgiServer) -> str:
    return f"wss://127.0.0.1:{server.port}"


def client_context(pki, certificate: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    if certificate is not None:
        cert, key = pki[certificate]
        context.load_cert_chain(str(cert), str(key))
    return context


@database_sync_to_async
def register(identity: str, profile: int, password: str | None = None) -> None:
    Station.objects.create(
        id=identity,
        security_profile=profile,
        password_hash=make_station_password(password) if password else "",
    )


async def admitted(url: str, identity: str, **kwargs) -> bool:
    """Whether the handshake is accepted (and the station then booted)."""
    try:
        ws = await connect_ws(url, identity, "2.0.1", **kwargs)
    except InvalidStatus as error:
        assert error.response.status_code == 401, error.response.status_code
        return False
    await ws.close()
    return True


async def refusals(identity: str) -> list[str]:
    return [
        e.message
        async for e in StationEvent.objects.filter(
            station_id=identity, type="SecurityProfileViolation"
        ).order_by("id")
    ]


async def test_profile_3_a_client_certificate_of_the_right_ca_for_the_identity(tls_uvicorn, pki):
    await register("P3", 3)
    assert await admitted(wss(tls_uvicorn), "P3", ssl=client_context(pki, "P3"))
    station = await Station.objects.aget(pk="P3")
    assert station.session == 1


async def test_profile_3_refuses_a_wrong_ca_and_an_expired_certificate(tls_uvicorn, pki):
    """The TLS handshake itself fails: the station never reaches the CSMS's code."""
    await register("P3", 3)
    for certificate in ("P3-wrong-ca", "P3-expired"):
        # TLS 1.3 reports a refused client certificate after the handshake: the socket closes
        # before any HTTP answer (InvalidMessage); TLS 1.2 fails the handshake (SSLError).
        with pytest.raises((ssl.SSLError, InvalidHandshake, ConnectionError)):
            await connect_ws(wss(tls_uvicorn), "P3", "2.0.1", ssl=client_context(pki, certificate))
    station = await Station.objects.aget(pk="P3")
    assert station.session == 0


async def test_profile_3_refuses_a_certificate_of_another_identity_and_basic_auth(tls_uvicorn, pki):
    await register("P3", 3, password=PASSWORD)
    assert not await admitted(wss(tls_uvicorn), "P3", ssl=client_context(pki, "OTHER"))
    # The right password, but no certificate: profile 3 is not downgraded to 2.
    assert not await admitted(wss(tls_uvicorn), "P3", ssl=client_context(pki), password=PASSWORD)
    assert await refusals("P3") == [
        "The client certificate is for 'OTHER', not 'P3'",
        "Security profile 3 requires a client certificate",
    ]


async def test_profile_2_needs_tls_and_its_password(tls_uvicorn, live_uvicorn, pki):
    await register("P2", 2, password=PASSWORD)
    assert await admitted(wss(tls_uvicorn), "P2", ssl=client_context(pki), password=PASSWORD)
    assert not await admitted(wss(tls_uvicorn), "P2", ssl=client_context(pki), password="x" * 16)
    assert not await admitted(wss(tls_uvicorn), "P2", ssl=client_context(pki))
    # Plain ws://, the right password: a profile 2 station is not downgraded to 1.
    assert not await admitted(live_uvicorn.url, "P2", password=PASSWORD)
    assert await refusals("P2") == [
        "Security profile 2 requires Basic auth",
        "Security profile 2 requires TLS (wss://)",
    ]


async def test_profiles_0_and_1_work_over_tls_too(tls_uvicorn, pki):
    await register("P1", 1, password=PASSWORD)
    await register("P0", 0)
    assert await admitted(wss(tls_uvicorn), "P1", ssl=client_context(pki), password=PASSWORD)
    assert not await admitted(wss(tls_uvicorn), "P1", ssl=client_context(pki))
    assert await admitted(wss(tls_uvicorn), "P0", ssl=client_context(pki))


# --- units: what the CSMS reads of a connection --------------------------------------------------


def test_the_subject_cn_is_read_from_an_rfc_4514_name():
    assert common_name("CN=CP_1,O=Example Charging,C=NL") == "CP_1"
    assert common_name("O=Example\\, Inc.,CN=CP\\,2") == "CP,2"
    assert common_name("O=No name") == ""


def test_proxy_headers_are_read_only_when_the_operator_says_so(settings):
    scope = {
        "scheme": "wss",
        "headers": [(b"x-ssl-client-verify", b"SUCCESS"), (b"x-ssl-client-s-dn", b"CN=P3,O=Lab")],
    }
    settings.OCPP_TLS_CLIENT_HEADERS = False
    assert from_scope(scope) == ConnectionSecurity(tls=True)  # a station could have forged them
    settings.OCPP_TLS_CLIENT_HEADERS = True
    assert from_scope(scope) == ConnectionSecurity(tls=True, client_cn="P3")
    failed = {"scheme": "wss", "headers": [(b"x-ssl-client-verify", b"FAILED:certificate expired")]}
    assert from_scope(failed).certificate_problem == "FAILED:certificate expired"
    assert profile_problem(3, "P3", False, from_scope(failed)).startswith(
        "Client certificate refused"
    )


def test_the_emulator_connects_at_profile_3_with_its_certificate(tls_uvicorn, pki):
    """`manage.py emulate --ca-file --cert-file --key-file`: a profile 3 station from the shell."""
    Station.objects.create(id="P3", security_profile=3)
    cert, key = pki["P3"]
    done = subprocess.run(
        [
            sys.executable, "manage.py", "emulate", "P3", "--once",
            "--url", f"{wss(tls_uvicorn)}/ocpp/", "--ca-file", str(pki["ca"]),
            "--cert-file", str(cert), "--key-file", str(key),
        ],
        cwd=ROOT,
        env=tls_uvicorn.env,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "P3: BootNotification" in done.stdout and "Accepted" in done.stdout
