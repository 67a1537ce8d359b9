"""Diagnostics (2.0.1 GetLog in block N and the 1.6 security whitepaper's GetLog, 1.6
GetDiagnostics): an upload, as both versions report it.

The emulator uploads a real file to an `http(s)://` location with `PUT` (a few lines of its own
state: enough for a CSMS to store and show), reporting Uploading, then Uploaded, or the version's
failure status when the server refuses it or cannot be reached. Any other scheme (ftp://, …) is
reported as a failed upload: the emulator speaks only HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import urllib.error
import urllib.request
from typing import Any

from emulator.protocol.base import ProtocolBase

logger = logging.getLogger("emulator")
UPLOAD_TIMEOUT = 30.0


def put(url: str, body: bytes, context: ssl.SSLContext | None) -> int:
    """PUT `body` to `url` (in a worker thread): the HTTP status, 0 when nothing answered."""
    request = urllib.request.Request(url, data=body, method="PUT")
    request.add_header("Content-Type", "text/plain; charset=utf-8")
    try:
        with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT, context=context) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError) as error:
        logger.warning("upload to %s failed: %s", url[:60], error)
        return 0


class DiagnosticsBlock(ProtocolBase):
    def log_content(self, kind: str) -> bytes:
        station = self.station
        lines = [
            f"{station.identity} {kind}",
            f"protocol {self.version}, firmware {station.options.firmware_version}",
            *(f"connector {c.evse_id}: {c.status}" for c in station.connectors.values()),
        ]
        return ("\n".join(lines) + "\n").encode()

    async def _upload(
        self, action: str, location: str, kind: str, failed: str, **extra: Any
    ) -> None:
        """Upload the log to `location`, reporting each step with `action` (the version's status
        notification), with `extra` (the request id) in each."""
        await self.station.call(action, {"status": "Uploading", **extra})
        ok = False
        if location.startswith(("http://", "https://")):
            context = self.station.options.ssl_context if location.startswith("https") else None
            status = await asyncio.to_thread(put, location, self.log_content(kind), context)
            ok = 200 <= status < 300
        await self.station.call(action, {"status": "Uploaded" if ok else failed, **extra})
