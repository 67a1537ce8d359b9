"""Firmware end to end (OCPP 2.0.1 L01-L06, 1.6 FirmwareManagement and the security whitepaper's
SignedUpdateFirmware; the CSMS's side): a real server, the emulator as the stations, the image
uploaded through REST, served by the CSMS and installed for real.

- L01: an update is recorded before it is sent; the station downloads the image from the CSMS's
  own URL, every status it notifies is kept in order, and the boot that reports the image's version
  is the proof of success; the download URL is gone afterwards;
- L02 / the whitepaper: a signed image goes as a signed update (2.0.1 UpdateFirmware with the
  signature, 1.6 SignedUpdateFirmware) and is verified; a bad signature fails the update
  (InvalidSignature); so do InstallationFailed and a reboot with the old version;
- L05/L06: a local controller publishes and unpublishes an image;
- campaigns (tests/test_firmware_campaign.py).
"""

from __future__ import annotations

import asyncio
import base64
import io
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certificates.authority import pem
from firmware.models import FirmwareImage, FirmwareUpdate, Publication
from stations import certificates as tls
from tests.emulated import running
from tests.live_api import LiveApi, staff_token

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TIMEOUT = 15.0


def image_bytes(version: str) -> bytes:
    return f"EMULATOR-FIRMWARE {version}\n".encode() + b"\x00" * 4096


def upload_image(api: LiveApi, version: str, *, signed: bool = False, bad: bool = False) -> dict:
    """POST /api/firmware-images/ as multipart/form-data (an operator's upload)."""
    content = image_bytes(version)
    fields = {"name": f"Emulator {version}", "version": version}
    if signed:
        signer = tls.station(tls.authority("Manufacturer"), "signer")
        signature = signer.key.sign(b"tampered" if bad else content, ec.ECDSA(hashes.SHA256()))
        fields |= {
            "signature": base64.b64encode(signature).decode(),
            "signing_certificate": pem([signer.certificate]),
        }
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, value in fields.items():
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    body.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="fw-{version}.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    body.write(content + f"\r\n--{boundary}--\r\n".encode())
    request = urllib.request.Request(
        f"{api.base}/firmware-images/",
        data=body.getvalue(),
        method="POST",
        headers={
            "Authorization": f"Token {api.token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    import json

    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        assert answer.status == 201
        return json.loads(answer.read())


async def until_outcome(pk: int, *outcomes: str) -> FirmwareUpdate:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while True:
        update = await FirmwareUpdate.objects.aget(pk=pk)
        if update.outcome in outcomes:
            return update
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"update {pk}: {update.outcome} {update.history}")
        await asyncio.sleep(0.05)  # written by the server process


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
async def test_l01_an_update_is_downloaded_from_the_csms_and_proven_by_the_next_boot(
    live_uvicorn, version
):
    api = LiveApi(live_uvicorn, await staff_token())
    image = await asyncio.to_thread(upload_image, api, "2.0.0")
    stored = await FirmwareImage.objects.aget(pk=image["id"])
    assert stored.size == len(image_bytes("2.0.0")) and len(stored.sha256) == 64
    identity = f"FW_{version.replace('.', '')}"
    async with running(live_uvicorn, identity, version) as station:
        status, update = await api.call(
            "POST", "/firmware-updates/", {"station": identity, "image": image["id"]}
        )
        assert status == 201, update
        assert update["answer"] == "Accepted" and update["version_before"] == "1.0.0"
        sent = [p for a, p in station.sent_calls() if a == "UpdateFirmware"][-1]
        location = sent["firmware"]["location"] if version == "2.0.1" else sent["location"]
        assert location.startswith(f"{live_uvicorn.http_url}/files/firmware/")
        assert location.rsplit("/", 1)[-1].startswith("fw-2")  # the image's own file name
        done = await until_outcome(update["id"], "installed", "failed")
        assert done.outcome == "installed", (done.problem, done.history)
        assert done.version_after == "2.0.0"
        steps = [h["status"] for h in done.history]
        expected = ["Downloading", "Downloaded", "Installing"]
        assert steps[:3] == expected
        assert (await asyncio.to_thread(status_of, location)) == 404  # finished: no longer served
        station_row = await station_model().objects.aget(pk=identity)
        assert station_row.firmware_version == "2.0.0"


def station_model():
    from stations.models import Station

    return Station


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
async def test_l02_a_signed_image_is_verified_and_a_bad_signature_fails(live_uvicorn, version):
    api = LiveApi(live_uvicorn, await staff_token())
    good = await asyncio.to_thread(upload_image, api, "3.0.0", signed=True)
    bad = await asyncio.to_thread(upload_image, api, "3.0.1", signed=True, bad=True)
    identity = f"FWS_{version.replace('.', '')}"
    async with running(live_uvicorn, identity, version) as station:
        _, update = await api.call(
            "POST", "/firmware-updates/", {"station": identity, "image": bad["id"]}
        )
        done = await until_outcome(update["id"], "installed", "failed")
        assert (done.outcome, done.problem) == ("failed", "InvalidSignature")
        action = "SignedUpdateFirmware" if version == "1.6" else "UpdateFirmware"
        sent = [p for a, p in station.sent_calls() if a == action][-1]
        assert sent["firmware"]["signature"] == bad["signature"]
        assert sent["firmware"]["signingCertificate"].startswith("-----BEGIN CERTIFICATE-----")

        _, update = await api.call(
            "POST", "/firmware-updates/", {"station": identity, "image": good["id"]}
        )
        done = await until_outcome(update["id"], "installed", "failed")
        assert done.outcome == "installed", (done.problem, done.history)
        assert "SignatureVerified" in [h["status"] for h in done.history]


async def test_a_failed_install_and_a_reboot_with_the_old_version_fail_the_update(live_uvicorn):
    api = LiveApi(live_uvicorn, await staff_token())
    image = await asyncio.to_thread(upload_image, api, "4.0.0")
    async with running(live_uvicorn, "FW_FAIL") as station:
        protocol: Any = station.protocol
        protocol.firmware_failure = "install"
        _, update = await api.call(
            "POST", "/firmware-updates/", {"station": "FW_FAIL", "image": image["id"]}
        )
        done = await until_outcome(update["id"], "installed", "failed")
        assert (done.outcome, done.problem) == ("failed", "InstallationFailed")
        protocol.firmware_failure = "boot"
        _, update = await api.call(
            "POST", "/firmware-updates/", {"station": "FW_FAIL", "image": image["id"]}
        )
        done = await until_outcome(update["id"], "installed", "failed")
        assert done.outcome == "failed" and "booted with version '1.0.0'" in done.problem


async def test_l05_l06_a_local_controller_publishes_and_unpublishes(live_uvicorn):
    api = LiveApi(live_uvicorn, await staff_token())
    image = await asyncio.to_thread(upload_image, api, "5.0.0")
    async with running(live_uvicorn, "FW_LC") as station:
        status, listed = await api.call("GET", f"/firmware-images/{image['id']}/")
        _, answer = await api.command(
            "FW_LC",
            "PublishFirmware",
            {"location": "<download URL>", "checksum": image["md5"], "requestId": 0},
        )
        del status, listed, answer
        await station.until(
            lambda: station.answered.count("PublishFirmwareStatusNotification") >= 4, TIMEOUT
        )
        publication = await Publication.objects.aget(station_id="FW_LC")
        assert publication.status == "Published" and publication.locations
        _, answer = await api.command("FW_LC", "UnpublishFirmware", {"checksum": image["md5"]})
        assert answer == {"status": "Unpublished"}
        assert (await Publication.objects.aget(pk=publication.pk)).unpublished == "Unpublished"
