"""The energy meter of each connector, and the sampling loop of a running transaction.

The register advances only while a transaction runs, at the configured power or the lower limit a
charging profile set, so the energy a CSMS stores can be checked exactly against what the station
metered (the crash-recovery test does). Samples are taken every `meter_interval` option, else every
MeterValueSampleInterval (2.0.1 TxUpdatedInterval) seconds, and queued in the outbox by the version.
"""

from __future__ import annotations

import asyncio

from emulator.core.base import StationBase
from emulator.core.state import Connector, Transaction

VOLTS, PHASES = 230, 3  # the emulated EVs charge on three phases


class Metering(StationBase):
    def meter_interval(self) -> float:
        return self.options.meter_interval or self.device.integer("MeterValueSampleInterval") or 60

    def power_w(self, connector: Connector) -> float:
        """The station's power, under the profile's limit, and what the EV takes: at most its
        maximum current, and nothing below its minimum (an EV cannot charge below it)."""
        limit = connector.limit_w
        power = self.options.power_w if limit is None else min(self.options.power_w, limit)
        options = self.options
        if options.ev_max_current_a is not None:
            power = min(power, options.ev_max_current_a * VOLTS * PHASES)
        if options.ev_min_current_a and power < options.ev_min_current_a * VOLTS * PHASES:
            return 0.0
        return power

    def advance_meter(self, connector: Connector) -> None:
        """Add the energy delivered since the last advance, at the (possibly limited) power."""
        now = asyncio.get_running_loop().time()
        if connector.transaction is not None and connector.metered_at is not None:
            connector.meter_wh += self.power_w(connector) * (now - connector.metered_at) / 3600
        connector.metered_at = now

    async def _meter(self, connector: Connector, tx: Transaction) -> None:
        """One sample batch per interval while the transaction runs."""
        self.advance_meter(connector)
        while connector.transaction is tx:
            await asyncio.sleep(self.meter_interval())
            if connector.transaction is tx:
                self.advance_meter(connector)
                self.protocol.enqueue_meter_values(tx, connector)
