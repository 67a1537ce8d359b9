"""2.0.1 block L, firmware management: UpdateFirmware (statuses carry the request id; the station
reboots before Installed, which its first message after the boot reports), PublishFirmware and
UnpublishFirmware (a local controller: the image is downloaded, its MD5 checked, and served)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.protocol.firmware import FirmwareBlock, fetch

STATUS = "FirmwareStatusNotification"
PUBLISH_STATUS = "PublishFirmwareStatusNotification"


class Firmware201(FirmwareBlock):
    def __init__(self, station: Any) -> None:
        super().__init__(station)
        self.published: dict[str, bytes] = {}  # MD5 -> image
        self._installed_request: int | None = None

    @on(Action.update_firmware)
    def on_update_firmware(
        self, request_id: int, firmware: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        cancelled = self._start_update(
            firmware["location"],
            STATUS,
            firmware.get("signature", ""),
            firmware.get("signing_certificate", ""),
            requestId=request_id,
        )
        return {"status": "AcceptedCanceled" if cancelled else "Accepted"}

    async def _after_install(self, action: str, **extra: Any) -> None:
        await self._firmware_notify(action, "InstallRebooting", **extra)
        self._installed_request = extra.get("requestId")
        self._reboot_for_firmware()

    def after_boot(self) -> None:
        """Once accepted again: an update that rebooted the station is Installed."""
        super().after_boot()
        if self._installed_request is not None:
            request, self._installed_request = self._installed_request, None
            self.station.spawn(self._firmware_notify(STATUS, "Installed", requestId=request))

    @on(Action.publish_firmware)
    def on_publish_firmware(
        self, location: str, checksum: str, request_id: int, **_: Any
    ) -> dict[str, Any]:
        self.station.spawn(self._publish(location, checksum, request_id))
        return {"status": "Accepted"}

    async def _publish(self, location: str, checksum: str, request_id: int) -> None:
        call = self.station.call
        await call(PUBLISH_STATUS, {"status": "Downloading", "requestId": request_id})
        image = await asyncio.to_thread(fetch, location, None)
        if image is None:
            await call(PUBLISH_STATUS, {"status": "DownloadFailed", "requestId": request_id})
            return
        await call(PUBLISH_STATUS, {"status": "Downloaded", "requestId": request_id})
        if hashlib.md5(image, usedforsecurity=False).hexdigest() != checksum:
            await call(PUBLISH_STATUS, {"status": "InvalidChecksum", "requestId": request_id})
            return
        await call(PUBLISH_STATUS, {"status": "ChecksumVerified", "requestId": request_id})
        self.published[checksum] = image
        served = [f"http://{self.station.identity.lower()}.local/firmware/{checksum}.bin"]
        await call(
            PUBLISH_STATUS, {"status": "Published", "location": served, "requestId": request_id}
        )

    @on(Action.unpublish_firmware)
    def on_unpublish_firmware(self, checksum: str, **_: Any) -> dict[str, Any]:
        if self.published.pop(checksum, None) is None:
            return {"status": "NoFirmware"}
        return {"status": "Unpublished"}
