"""Transactions and remote control (2.0.1 blocks E and F, 1.6 Core): what both versions do when
the CSMS starts or stops a transaction, and when it refuses the token of one that started.

A remote start may carry a charging profile, applied before the transaction starts so that its
first sample already respects the limit; hence this block builds on smart charging.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from emulator.core.state import Transaction
from emulator.protocol.smart_charging import SmartChargingBlock


class TransactionsBlock(SmartChargingBlock):
    def _remote_start(
        self,
        evse_id: int | None,
        id_token: str,
        charging_profile: dict[str, Any] | None,
        remote_start_id: int | None = None,
    ) -> dict[str, Any]:
        """RemoteStartTransaction / RequestStartTransaction: Accepted when the connector (named,
        or the first free for this token) can start; the transaction then starts in the
        background, authorized first if AuthorizeRemoteTxRequests says so."""
        station = self.station
        connector = self._connector_for(evse_id, id_token)
        if connector is None or not connector.available_for(id_token, station.now()):
            return {"status": "Rejected"}
        if charging_profile:
            self._apply_profile(connector.evse_id, charging_profile)
        station.spawn(
            station.start_transaction(
                connector.evse_id,
                id_token,
                authorize=station.device.flag("AuthorizeRemoteTxRequests"),
                remote_start_id=remote_start_id,
            )
        )
        return {"status": "Accepted"}

    def _remote_stop(self, transaction_id: int | str) -> dict[str, Any]:
        tx = self.station.find_transaction(transaction_id)
        if tx is None:
            return {"status": "Rejected"}
        self.station.spawn(self.station.stop_transaction(tx.evse_id, "Remote"))
        return {"status": "Accepted"}

    def _stop_unless_accepted(self, tx: Transaction, status: str) -> Awaitable[bool] | None:
        """The CSMS refused the token of a started transaction: stop it, once (1.6
        StopTransactionOnInvalidId, 2.0.1 StopTxOnInvalidId). The outbox awaits the stop."""
        if status != "Accepted" and not tx.deauthorized:
            tx.deauthorized = True
            return self.station.stop_transaction(tx.evse_id, "DeAuthorized")
        return None
