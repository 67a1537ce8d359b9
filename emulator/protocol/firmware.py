"""Firmware management (2.0.1 block L, 1.6 FirmwareManagement and the security whitepaper's
SignedUpdateFirmware): an update, installed for real as far as an emulator can.

The station downloads the file from the location (HTTP(S) GET), checks the signature when the
update carries one (ECDSA or RSA with SHA-256, by the signing certificate's key, over the file),
"installs" it — its firmware version becomes the one the image names, the first line of an
emulator image being `EMULATOR-FIRMWARE <version>` (any other file: `sha-<first 12 hex digits of
its SHA-256>`) — and reboots: the next BootNotification reports the new version (2.0.1 with the
reason FirmwareUpdate), which is the CSMS's proof. Each step is notified as the version does.

`firmware_failure` makes it fail on purpose, as real chargers do: "download" (DownloadFailed),
"signature" (InvalidSignature), "install" (InstallationFailed), "boot" (it reboots with its old
version: the install did not take).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import ssl
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from emulator.core.state import Connector
from emulator.protocol.base import ProtocolBase, Trigger

if TYPE_CHECKING:
    from emulator.station import EmulatedStation

logger = logging.getLogger("emulator")
HEADER = b"EMULATOR-FIRMWARE "
DOWNLOAD_TIMEOUT = 60.0


def fetch(url: str, context: ssl.SSLContext | None) -> bytes | None:
    """GET `url` (in a worker thread): the body, None when it cannot be had."""
    if not url.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT, context=context) as answer:
            return bytes(answer.read())
    except (urllib.error.URLError, OSError, ValueError) as error:
        logger.warning("firmware download from %s failed: %s", url[:60], error)
        return None


def version_of(image: bytes) -> str:
    first = image.split(b"\n", 1)[0]
    if first.startswith(HEADER):
        return first[len(HEADER) :].decode(errors="replace").strip()[:50]
    return f"sha-{hashlib.sha256(image).hexdigest()[:12]}"


def signature_valid(image: bytes, signature: str, certificate: str) -> bool:
    try:
        key = x509.load_pem_x509_certificate(certificate.encode()).public_key()
        raw = base64.b64decode(signature)
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, image, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(raw, image, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (ValueError, InvalidSignature, TypeError):
        return False
    return True


class FirmwareBlock(ProtocolBase):
    STATUS_ACTION = "FirmwareStatusNotification"
    DOWNLOAD_FAILED = "DownloadFailed"

    def __init__(self, station: EmulatedStation) -> None:
        super().__init__(station)
        self.firmware_status = "Idle"
        self.firmware_failure = ""  # "", "download", "signature", "install", "boot"
        self._update: asyncio.Task[None] | None = None

    def triggers(self) -> dict[str, Trigger]:
        return super().triggers() | {"FirmwareStatusNotification": self._send_firmware_status}

    def _start_update(
        self, location: str, action: str, signature: str = "", certificate: str = "", **extra: Any
    ) -> bool:
        """Begin an update (cancelling one under way: True then, for AcceptedCanceled)."""
        busy = self._update is not None and not self._update.done()
        if busy and self._update is not None:
            self._update.cancel()
        task = asyncio.ensure_future(
            self._install(location, action, signature, certificate, **extra)
        )
        self._update = task
        self.station.spawn(asyncio.shield(task))
        return busy

    async def _firmware_notify(self, action: str, status: str, **extra: Any) -> None:
        self.firmware_status = status
        await self.station.call(action, {"status": status, **extra})

    async def _install(
        self, location: str, action: str, signature: str, certificate: str, **extra: Any
    ) -> None:
        station = self.station
        await self._firmware_notify(action, "Downloading", **extra)
        context = station.options.ssl_context if location.startswith("https") else None
        image = (
            None
            if self.firmware_failure == "download"
            else await asyncio.to_thread(fetch, location, context)
        )
        if image is None:
            await self._firmware_notify(action, self.DOWNLOAD_FAILED, **extra)
            return
        await self._firmware_notify(action, "Downloaded", **extra)
        if signature or certificate or self.firmware_failure == "signature":
            if self.firmware_failure == "signature" or not signature_valid(
                image, signature, certificate
            ):
                await self._firmware_notify(action, "InvalidSignature", **extra)
                return
            await self._firmware_notify(action, "SignatureVerified", **extra)
        await self._firmware_notify(action, "Installing", **extra)
        if self.firmware_failure == "install":
            await self._firmware_notify(action, "InstallationFailed", **extra)
            return
        if self.firmware_failure != "boot":
            station.options.firmware_version = version_of(image)
        await self._after_install(action, **extra)

    async def _after_install(self, action: str, **extra: Any) -> None:
        """Installed, then a reboot that reports the new version (2.0.1 overrides the order)."""
        await self._firmware_notify(action, "Installed", **extra)
        self._reboot_for_firmware()

    def _reboot_for_firmware(self) -> None:
        station = self.station
        station.boot_reason = "FirmwareUpdate"
        station.close_connection(reconnect_now=True)

    async def _send_firmware_status(self, connectors: list[Connector]) -> None:
        await self.station.call(self.STATUS_ACTION, {"status": self.firmware_status})
