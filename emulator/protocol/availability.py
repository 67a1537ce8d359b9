"""Availability (2.0.1 block G, 1.6 Core): ChangeAvailability as both versions carry it out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.core.state import Connector
from emulator.protocol.base import ProtocolBase


class AvailabilityBlock(ProtocolBase):
    def _set_operative(self, targets: Iterable[Connector], operative: bool) -> dict[str, Any]:
        """Make connectors (in)operative. An idle one reports its new status at once; one with a
        transaction changes when it ends, so the answer is Scheduled."""
        station = self.station
        scheduled = False
        for connector in targets:
            connector.operative = operative
            if connector.transaction is not None:
                scheduled = True
            else:
                station.spawn(station.refresh_status(connector))
        return {"status": "Scheduled" if scheduled else "Accepted"}
