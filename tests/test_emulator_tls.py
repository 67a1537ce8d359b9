"""The emulator speaks wss:// with certificate verification, to a TLS central system."""

from __future__ import annotations

import json
import ssl
import subprocess

import pytest
import websockets

from emulator.station import EmulatedStation, StationOptions
from tests.ocpp_client import ws_subprotocols


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert,
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def answer_boot(ws) -> None:
    async for text in ws:
        frame = json.loads(text)
        status = {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}
        await ws.send(json.dumps([3, frame[1], status]))


@pytest.fixture
async def tls_csms(certificate):
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    async with websockets.serve(
        answer_boot, "127.0.0.1", 0, ssl=context, subprotocols=ws_subprotocols(["ocpp2.0.1"])
    ) as server:
        yield f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


async def test_the_emulator_boots_over_wss_trusting_the_given_ca(tls_csms, certificate):
    options = StationOptions(
        identity="CP_TLS",
        url=tls_csms,
        ssl_context=ssl.create_default_context(cafile=certificate[0]),
    )
    answer = await EmulatedStation(options).boot_once()
    assert answer["status"] == "Accepted"


async def test_an_untrusted_certificate_is_refused(tls_csms):
    with pytest.raises(ssl.SSLCertVerificationError):
        await EmulatedStation(StationOptions(identity="CP_TLS", url=tls_csms)).boot_once()
