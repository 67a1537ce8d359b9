"""Diagnostics (2.0.1 GetLog in block N, 1.6 GetDiagnostics): an upload, as both versions report
it. The emulator uploads nothing; it reports the statuses of a successful upload."""

from __future__ import annotations

from typing import Any

from emulator.protocol.base import ProtocolBase

UPLOAD_STEPS = ("Uploading", "Uploaded")


class DiagnosticsBlock(ProtocolBase):
    async def _upload(self, action: str, **extra: Any) -> None:
        """One `action` (the version's status notification) per step, with `extra` in each."""
        for status in UPLOAD_STEPS:
            await self.station.call(action, {"status": status, **extra})
