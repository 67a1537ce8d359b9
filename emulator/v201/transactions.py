"""2.0.1 block E, transactions: TransactionEvent Started / Updated / Ended in the outbox,
RequestStartTransaction, RequestStopTransaction and GetTransactionStatus, and the TransactionEvent
a TriggerMessage asks for.

A 2.0.1 station names its transactions itself, so every event is complete when it happens: its
payload (time, seqNo, the offline flag) is frozen when queued, not when sent.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.core.outbox import Answered, OutboxItem
from emulator.core.state import Connector, Transaction
from emulator.protocol.base import Trigger
from emulator.protocol.transactions import TransactionsBlock
from emulator.v201.meter_values import MeterValues201

# The station's stop reasons (1.6 vocabulary) to 2.0.1 TriggerReasonEnumType.
STOP_TRIGGER = {
    "Remote": "RemoteStop",
    "EVDisconnected": "EVCommunicationLost",
    "DeAuthorized": "Deauthorized",
    "ImmediateReset": "ResetCommand",
    "Local": "StopAuthorized",
}


class Transactions201(TransactionsBlock, MeterValues201):
    def __init__(self, station: Any) -> None:
        super().__init__(station)
        # transactionId -> {"running": the last CostUpdated, "total": the Ended answer's totalCost}
        self.costs: dict[str, dict[str, float]] = {}

    def triggers(self) -> dict[str, Trigger]:
        return super().triggers() | {"TransactionEvent": self._send_transaction_events}

    def _event(
        self, tx: Transaction, event_type: str, trigger: str, **extra: Any
    ) -> dict[str, Any]:
        """A TransactionEvent of `tx`; `extra["info"]` goes into its transactionInfo."""
        payload = {
            "eventType": event_type,
            "timestamp": self.station.timestamp(),
            "triggerReason": trigger,
            "seqNo": tx.next_seq_no(),
            "transactionInfo": {"transactionId": tx.local_id, **extra.pop("info", {})},
            **extra,
        }
        if not self.station.online.is_set():
            payload["offline"] = True
        return payload

    def _send_event(self, payload: dict[str, Any], tx: Transaction | None = None) -> None:
        """Queue an event; with `tx`, a refused token in the answer stops that transaction."""
        self.station.enqueue(
            "TransactionEvent", lambda: payload, self._check_token(tx) if tx else None
        )

    def _check_token(self, tx: Transaction) -> Answered:
        def check(answer: dict[str, Any]) -> Any:
            status = answer.get("idTokenInfo", {}).get("status", "Accepted")
            return self._stop_unless_accepted(tx, status)

        return check

    def is_meter_message(self, item: OutboxItem) -> bool:
        return item.action == "TransactionEvent" and item.build()["eventType"] == "Updated"

    def enqueue_start(self, tx: Transaction) -> None:
        tx.csms_id = tx.local_id
        info: dict[str, Any] = {"chargingState": "Charging"}
        if tx.remote_start_id is not None:
            info["remoteStartId"] = tx.remote_start_id
        extra: dict[str, Any] = {
            "info": info,
            "evse": {"id": tx.evse_id, "connectorId": 1},
            "idToken": {"idToken": tx.id_token, "type": "ISO14443"},
            "meterValue": [self._register(tx.meter_start_wh, "Transaction.Begin")],
        }
        if tx.reservation_id is not None:
            extra["reservationId"] = tx.reservation_id
        trigger = "RemoteStart" if tx.remote_start_id is not None else "Authorized"
        self._send_event(self._event(tx, "Started", trigger, **extra), tx)

    def enqueue_meter_values(self, tx: Transaction, connector: Connector) -> None:
        sample = self._register(connector.meter_wh, "Sample.Periodic")
        sample["sampledValue"].append(self._power(connector, "Sample.Periodic"))
        info = {"chargingState": "Charging"}
        self._send_event(
            self._event(tx, "Updated", "MeterValuePeriodic", info=info, meterValue=[sample])
        )

    def enqueue_stop(self, tx: Transaction, meter_wh: float, reason: str) -> None:
        info = {"chargingState": "Idle", "stoppedReason": reason}
        payload = self._event(
            tx,
            "Ended",
            STOP_TRIGGER.get(reason, "StopAuthorized"),
            info=info,
            meterValue=[self._register(meter_wh, "Transaction.End")],
        )
        self.station.enqueue("TransactionEvent", lambda: payload, self._final_cost(tx.local_id))

    def _final_cost(self, transaction_id: str) -> Answered:
        def show(answer: dict[str, Any]) -> None:
            """I03: the total cost the CSMS answers the Ended event with, on the screen."""
            total = answer.get("totalCost")
            if total is not None:
                self.costs.setdefault(transaction_id, {})["total"] = float(total)
                self.station.screen.append(f"Total cost: {total}")

        return show

    @on(Action.cost_updated)
    def on_cost_updated(self, total_cost: float, transaction_id: str, **_: Any) -> dict[str, Any]:
        """I02: the running cost, shown while the session lasts."""
        self.costs.setdefault(transaction_id, {})["running"] = float(total_cost)
        self.station.screen.append(f"Cost so far: {total_cost}")
        return {}

    async def _send_transaction_events(self, connectors: list[Connector]) -> None:
        for connector in connectors:
            tx = connector.transaction
            if tx is not None:
                meter_value = [self._register(connector.meter_wh, "Trigger")]
                self._send_event(self._event(tx, "Updated", "Trigger", meterValue=meter_value))

    @on(Action.request_start_transaction)
    def on_request_start_transaction(
        self,
        id_token: dict[str, Any],
        remote_start_id: int,
        evse_id: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        token = id_token["id_token"]
        return self._remote_start(evse_id, token, kwargs.get("charging_profile"), remote_start_id)

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id: str, **_: Any) -> dict[str, Any]:
        return self._remote_stop(transaction_id)

    @on(Action.get_transaction_status)
    def on_get_transaction_status(
        self, transaction_id: str | None = None, **_: Any
    ) -> dict[str, Any]:
        """Whether the outbox still holds messages (of this transaction, if one is named)."""
        queued = self.station.outbox
        if transaction_id is None:
            return {"messagesInQueue": len(queued) > 0}
        pending = any(
            item.action == "TransactionEvent"
            and (item.payload or item.build())["transactionInfo"]["transactionId"] == transaction_id
            for item in queued
        )
        return {
            "messagesInQueue": pending,
            "ongoingIndicator": self.station.find_transaction(transaction_id) is not None,
        }
