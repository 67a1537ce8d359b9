"""Authorization (2.0.1 block C, 1.6 Core): ClearCache, the same message in both versions.

The emulator keeps no authorization cache (it asks the CSMS while online and trusts its local list
offline), so clearing it always succeeds.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on

from emulator.protocol.base import ProtocolBase


class AuthorizationBlock(ProtocolBase):
    @on("ClearCache")
    def on_clear_cache(self, **_: Any) -> dict[str, Any]:
        return {"status": "Accepted"}
