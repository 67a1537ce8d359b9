"""Charging sessions: starting and stopping transactions, as a driver or the CSMS asks.

The sequence is the same in both versions (authorize, Preparing, the start message, Charging, meter
samples, the stop message, Finishing, the idle status); the version only shapes the messages, which
go through the outbox so that none is lost while offline.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from emulator.core.authorization import Authorization
from emulator.core.metering import Metering
from emulator.core.reservations import Reservations
from emulator.core.state import Transaction

logger = logging.getLogger("emulator")


class ChargingSessions(Reservations, Authorization, Metering):
    pending_reset: str | None  # a 2.0.1 Reset OnIdle, waiting for the last transaction to end

    async def start_transaction(
        self,
        evse_id: int,
        id_token: str,
        *,
        authorize: bool = True,
        remote_start_id: int | None = None,
    ) -> Transaction | None:
        """Plug in and start charging; None when the connector is busy, reserved for another
        token, or the token is not authorized."""
        connector = self.connectors.get(evse_id)
        if connector is None or not connector.free:
            return None
        reservation = connector.reservation
        if reservation is not None and reservation.expires_at > self.now():
            if reservation.id_token != id_token:
                logger.info("%s: EVSE %d is reserved for another token", self.identity, evse_id)
                return None
        else:
            reservation = None
        if authorize and await self.authorize(id_token) != "Accepted":
            logger.info("%s: %s not authorized", self.identity, id_token)
            return None
        await self.set_status(evse_id, "Preparing")
        tx = Transaction(
            local_id=uuid.uuid4().hex[:20],
            evse_id=evse_id,
            id_token=id_token,
            meter_start_wh=connector.meter_wh,
            started_at=self.now(),
            remote_start_id=remote_start_id,
            reservation_id=reservation.id if reservation else None,
        )
        self.advance_meter(connector)  # the meter counts from now, not from the last session's end
        connector.transaction = tx
        connector.reservation = None
        self.protocol.enqueue_start(tx)
        await self.set_status(evse_id, "Charging")
        tx.meter_task = self.spawn(self._meter(connector, tx))
        return tx

    async def stop_transaction(self, evse_id: int, reason: str = "Local") -> bool:
        """Stop charging (`reason` in the 1.6 vocabulary; 2.0.1 maps it); False if none ran."""
        connector = self.connectors.get(evse_id)
        tx = connector.transaction if connector else None
        if connector is None or tx is None:
            return False
        if tx.meter_task is not None and tx.meter_task is not asyncio.current_task():
            tx.meter_task.cancel()
        self.advance_meter(connector)  # the energy since the last sample counts too
        connector.transaction = None
        self.protocol.enqueue_stop(tx, connector.meter_wh, reason)
        self.protocol.transaction_ended(evse_id)
        await self.set_status(evse_id, "Finishing")
        await self.refresh_status(connector)
        if self.pending_reset and not any(c.transaction for c in self.connectors.values()):
            self.pending_reset = None  # a Reset waited for the station to be idle
            self.spawn(self.protocol.reboot())
        return True

    def find_transaction(self, transaction_id: int | str) -> Transaction | None:
        for connector in self.connectors.values():
            tx = connector.transaction
            if tx is not None and str(tx.csms_id) == str(transaction_id):
                return tx
        return None

    async def session(self, evse_id: int, id_token: str, seconds: float) -> bool:
        """A driver: plug in, authorize, charge for `seconds`, stop, unplug."""
        tx = await self.start_transaction(evse_id, id_token)
        if tx is None:
            return False
        await asyncio.sleep(seconds)
        if self.connectors[evse_id].transaction is tx:
            await self.stop_transaction(evse_id, "EVDisconnected")
        return True
