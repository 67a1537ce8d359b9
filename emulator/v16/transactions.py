"""1.6 Core, transactions: StartTransaction, MeterValues and StopTransaction in the outbox, and
RemoteStartTransaction / RemoteStopTransaction.

1.6 transaction messages name the transaction by the id the CSMS gave in StartTransaction.conf, so
the later ones are built only when sent (after that answer), never when queued.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.core.outbox import OutboxItem
from emulator.core.state import Connector, Transaction
from emulator.protocol.transactions import TransactionsBlock
from emulator.v16.meter_values import MeterValues16

# The station's stop reasons (1.6 vocabulary, plus a few of its own) as StopTransaction says them.
STOP_REASON = {"ImmediateReset": "HardReset", "EVDisconnected": "EVDisconnected"}
REASONS = {
    "DeAuthorized",
    "EmergencyStop",
    "EVDisconnected",
    "HardReset",
    "Local",
    "Other",
    "PowerLoss",
    "Reboot",
    "Remote",
    "SoftReset",
    "UnlockCommand",
}


class Transactions16(TransactionsBlock, MeterValues16):
    def is_meter_message(self, item: OutboxItem) -> bool:
        return item.action == "MeterValues"

    def enqueue_start(self, tx: Transaction) -> None:
        payload: dict[str, Any] = {
            "connectorId": tx.evse_id,
            "idTag": tx.id_token,
            "meterStart": int(tx.meter_start_wh),
            "timestamp": self.station.timestamp(),
        }
        if tx.reservation_id is not None:
            payload["reservationId"] = tx.reservation_id

        def started(answer: dict[str, Any]) -> Any:
            tx.csms_id = answer["transactionId"]
            return self._stop_unless_accepted(tx, answer["idTagInfo"]["status"])

        self.station.enqueue("StartTransaction", lambda: payload, started)

    def enqueue_meter_values(self, tx: Transaction, connector: Connector) -> None:
        # Measured now; the transactionId is filled in when it is sent, after the
        # StartTransaction ahead of it in the outbox has been answered.
        sample = self._sample(
            connector.meter_wh, "Sample.Periodic", self.station.power_w(connector)
        )
        self.station.enqueue(
            "MeterValues",
            lambda: {
                "connectorId": tx.evse_id,
                "transactionId": tx.csms_id,
                "meterValue": [sample],
            },
        )

    def enqueue_stop(self, tx: Transaction, meter_wh: float, reason: str) -> None:
        timestamp = self.station.timestamp()
        data = [self._sample(meter_wh, "Transaction.End")]
        self.station.enqueue(
            "StopTransaction",
            lambda: {
                "transactionId": tx.csms_id,
                "idTag": tx.id_token,
                "meterStop": int(meter_wh),
                "timestamp": timestamp,
                "reason": STOP_REASON.get(reason, reason if reason in REASONS else "Other"),
                "transactionData": data,
            },
        )

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return self._remote_start(connector_id, id_tag, kwargs.get("charging_profile"))

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, **_: Any) -> dict[str, Any]:
        return self._remote_stop(transaction_id)
