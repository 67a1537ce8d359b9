"""CostUpdated (OCPP 2.0.1 I02), declared once in the command catalog: the running cost of a
session, sent by the running-cost job (tariffs.running) and from the station page or REST.

The operator names the session; the CSMS computes its cost at the session's kept prices. A REST
payload may carry its own totalCost (an integrator who prices elsewhere): it is sent as given.
Either way, an answered CostUpdated is recorded as what the station was last told.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from stations.db import in_db_thread
from stations.models import Transaction
from stations.remote.answers import Answer, records
from stations.remote.catalog import V201, CommandSpec, NoDefaultPayload, Target, register
from stations.remote.delivery import send_command
from stations.remote.forms import Choice, FormInput, InputError, Page
from stations.remote.results import CommandResult
from tariffs import services


def _active_on_page(page: Page) -> list[tuple[str, str]]:
    return [(str(tx.transaction_id), str(tx.transaction_id)) for tx in page.get("active", ())]


@dataclass(frozen=True)
class CostInput(FormInput):
    transaction_id: str
    total: Decimal | None = None  # None: the CSMS computes it

    fields = (
        Choice(
            "transaction_id",
            "Transaction",
            options=_active_on_page,
            empty="no active transaction",
            live="cost-target",
        ),
    )


def wire_cost(total: Decimal) -> float:
    """totalCost as the JSON number OCPP's `decimal` is."""
    return float(total)


def _payload(value: CostInput, target: Target) -> dict[str, Any]:
    if value.total is None:
        raise InputError("The cost is computed when the command is sent")
    return {"totalCost": wire_cost(value.total), "transactionId": value.transaction_id}


def _cost_now(station_id: str, transaction_id: str) -> Decimal:
    tx = Transaction.objects.filter(station_id=station_id, ocpp_id=transaction_id).first()
    if tx is None:
        raise InputError(f"{station_id} has no transaction {transaction_id}")
    row = services.priced(tx)
    if row is None:
        raise InputError(f"No tariff applies to {station_id}: its sessions have no known cost")
    return services.current_cost(tx, row).total


async def _send(
    value: CostInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    total = value.total
    if total is None:
        total = await in_db_thread(_cost_now)(station_id, value.transaction_id)
    payload = {"totalCost": wire_cost(total), "transactionId": value.transaction_id}
    result = await send_command(
        station_id, "CostUpdated", payload, requested_by=user, source=source
    )
    return f"CostUpdated {total} for {value.transaction_id}", result


def _parse(payload: dict[str, Any], target: Target) -> CostInput:
    transaction = payload.get("transactionId")
    if not isinstance(transaction, str) or not transaction:
        raise InputError("transactionId: the station's transaction id")
    total = payload.get("totalCost")
    if total is None:
        return CostInput(transaction)
    try:
        amount = Decimal(str(total))
    except InvalidOperation:
        raise InputError("totalCost: a number") from None
    if not amount.is_finite() or amount < 0:
        raise InputError("totalCost: a number, at least 0")
    return CostInput(transaction, amount)


def _newest_session(target: Target) -> CostInput:
    tx = (
        Transaction.objects.filter(
            station_id=target.station_id, is_active=True, ocpp_id__isnull=False
        )
        .order_by("-started_at", "-pk")
        .first()
    )
    if tx is None or tx.ocpp_id is None:
        raise NoDefaultPayload(f"{target.station_id} has no session under way")
    try:
        return CostInput(tx.ocpp_id, _cost_now(target.station_id, tx.ocpp_id))
    except InputError as error:
        raise NoDefaultPayload(str(error)) from None


register(
    CommandSpec(
        "cost-updated",
        "Send the running cost",
        {V201: "CostUpdated"},
        CostInput,
        _payload,
        default=_newest_session,
        perform=_send,
        parse=_parse,
    )
)


@records("CostUpdated")
def _told(answer: Answer) -> None:
    if answer.answered:
        services.cost_sent(
            answer.station_id,
            str(answer.payload["transactionId"]),
            Decimal(str(answer.payload["totalCost"])),
        )
