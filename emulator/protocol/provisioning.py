"""Provisioning (2.0.1 block B, 1.6 Core): what both versions do on a Reset."""

from __future__ import annotations

from emulator.protocol.base import ProtocolBase


class ProvisioningBlock(ProtocolBase):
    async def _reboot(self, stop_reason: str) -> None:
        """Stop every transaction with `stop_reason`, then reconnect at once: the next boot says
        RemoteReset (2.0.1), and the new session reports every connector again."""
        station = self.station
        station.boot_reason = "RemoteReset"
        station.device.reboot()  # values that waited for a reboot (RebootRequired) apply now
        for connector in station.connectors.values():
            if connector.transaction is not None:
                await station.stop_transaction(connector.evse_id, stop_reason)
        station.close_connection(reconnect_now=True)
