"""Local authorization list (2.0.1 block D, 1.6 LocalAuthListManagement): SendLocalList as both
versions carry it out. The list's rules are the core's (`emulator.core.authorization`); an entry
without an info removes its token, in both versions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.protocol.base import ProtocolBase


class LocalListBlock(ProtocolBase):
    def _send_local_list(
        self, version: int, update_type: str, entries: Iterable[tuple[str, dict[str, Any] | None]]
    ) -> dict[str, Any]:
        """SendLocalList's answer; `entries`: (token, its idTagInfo / idTokenInfo or None)."""
        updates = [(token, (info or {}).get("status")) for token, info in entries]
        return {"status": self.station.update_local_list(version, update_type, updates)}
