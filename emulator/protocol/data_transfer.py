"""DataTransfer (2.0.1 block P, 1.6 Core): the same message in both versions.

The emulator runs one vendor service, an echo, so a CSMS's vendor extensions can be tested against
it; any other vendor id is unknown, as the specifications require.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on

from emulator.protocol.base import ProtocolBase

ECHO_VENDOR = "org.example.emulator"


class DataTransferBlock(ProtocolBase):
    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> dict[str, Any]:
        if vendor_id == ECHO_VENDOR:
            return {"status": "Accepted", "data": kwargs.get("data")}
        return {"status": "UnknownVendorId"}
