"""Which tariff applies where, and what each session costs: priced when it starts (its prices
kept), again while it runs (the running cost the job sends, I02) and when it ends (the final
cost, stored and returned as totalCost, I03)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction as db_transaction

from sites.models import Placement
from stations.clock import utcnow
from stations.models import Transaction
from stations.services import charging_time
from tariffs.models import SessionCost, Tariff, TariffAssignment
from tariffs.pricing import Cost, Prices, Usage, describe, price


def tariff_for(station_id: str) -> Tariff | None:
    """The station's own tariff, else its site's (the default site when it was never placed),
    else the network's default."""
    own = TariffAssignment.objects.select_related("tariff").filter(station_id=station_id).first()
    if own is not None:
        return own.tariff
    placement = Placement.objects.filter(station_id=station_id).values_list("site_id", flat=True)
    site_id = placement.first()
    site_tariff = (
        TariffAssignment.objects.select_related("tariff").filter(site_id=site_id).first()
        if site_id is not None
        else TariffAssignment.objects.select_related("tariff").filter(site__is_default=True).first()
    )
    if site_tariff is not None:
        return site_tariff.tariff
    return Tariff.objects.filter(is_default=True).first()


def display_text(station_id: str) -> str:
    """What the station shows a driver about the price here (I01); empty without a tariff."""
    tariff = tariff_for(station_id)
    if tariff is None:
        return ""
    return tariff.display_text or describe(tariff.prices)


def usage(tx: Transaction, until: datetime) -> Usage:
    """The session's energy and times up to `until` (its end, if it has ended). A session whose
    station never reported a charging state has charged all along, as far as the CSMS knows."""
    end = tx.stopped_at or until
    charged, idled = charging_time.times(tx, end)
    if not tx.charging_state and tx.state_since is None and not charged:
        charged = max(0.0, (end - tx.started_at).total_seconds())
    return Usage(tx.energy_wh, charged, idled)


def _store(row: SessionCost, tx: Transaction, cost: Cost, spent: Usage, now: datetime) -> None:
    row.currency = cost.currency
    row.energy_wh, row.charging_seconds, row.idle_seconds = (
        spent.energy_wh,
        spent.charging_seconds,
        spent.idle_seconds,
    )
    row.session_fee, row.energy_cost, row.time_cost, row.idle_cost = (
        cost.session_fee,
        cost.energy,
        cost.time,
        cost.idle,
    )
    row.net, row.vat, row.total = cost.net, cost.vat, cost.total
    row.final = not tx.is_active
    row.computed_at = now
    row.save()


def priced(tx: Transaction, now: datetime | None = None) -> SessionCost | None:
    """Price the session now: its kept prices, or the tariff in force (kept from now on). None
    when no tariff applies. A session whose final cost is stored keeps it."""
    now = now or utcnow()
    with db_transaction.atomic():
        row = SessionCost.objects.select_for_update().filter(transaction=tx).first()
        if row is not None and row.final:
            return row
        if row is None:
            tariff = tariff_for(tx.station_id)
            if tariff is None:
                return None
            # Another worker may price the same session at this moment: one row, the first's.
            created, _ = SessionCost.objects.get_or_create(
                transaction=tx,
                defaults={
                    "tariff": tariff,
                    "prices": tariff.prices.to_json(),
                    "currency": tariff.currency,
                },
            )
            row = SessionCost.objects.select_for_update().get(pk=created.pk)
            if row.final:
                return row
        prices = Prices.from_json(row.prices)
        spent = usage(tx, now)
        _store(row, tx, price(prices, spent), spent, now)
        return row


def session_started_16(station_id: str, connector_id: int, started_at: datetime) -> None:
    """Keep the prices in force when the session starts (after its answer has gone)."""
    tx = Transaction.objects.filter(
        station_id=station_id, evse_id=connector_id, started_at=started_at, ocpp_id__isnull=True
    ).first()
    if tx is not None:
        priced(tx)


def session_started_201(station_id: str, ocpp_id: str) -> None:
    tx = Transaction.objects.filter(station_id=station_id, ocpp_id=ocpp_id).first()
    if tx is not None:
        priced(tx)


def final_cost_201(station_id: str, ocpp_id: str) -> Decimal | None:
    """The cost of a 2.0.1 session that has ended, for its TransactionEvent Ended's answer
    (I03): None when no tariff applies, or when the session has not ended after all."""
    tx = Transaction.objects.filter(station_id=station_id, ocpp_id=ocpp_id).first()
    if tx is None or tx.is_active:
        return None
    row = priced(tx)
    return row.total if row is not None else None


def final_cost_16(station_id: str, transaction_pk: int) -> None:
    tx = Transaction.objects.filter(pk=transaction_pk, station_id=station_id).first()
    if tx is not None and not tx.is_active:
        priced(tx)


@dataclass(frozen=True)
class RunningCost:
    station_id: str
    transaction_id: str
    total: Decimal


def current_cost(tx: Transaction, row: SessionCost, now: datetime | None = None) -> Cost:
    """What the session costs so far, at its kept prices (the stored parts are final only once
    the session has ended)."""
    if row.final:
        return Cost(
            row.currency,
            row.session_fee,
            row.energy_cost,
            row.time_cost,
            row.idle_cost,
            row.net,
            row.vat,
            row.total,
        )
    return price(Prices.from_json(row.prices), usage(tx, now or utcnow()))


def running_costs(step: Decimal, now: datetime | None = None) -> list[RunningCost]:
    """The 2.0.1 sessions under way whose cost has moved by `step` or more since the station
    was last told (or that were never told), for CostUpdated (I02). Computed in memory from one
    query; only a session never priced yet (started before its tariff was set) is written."""
    now = now or utcnow()
    due = []
    active = Transaction.objects.filter(
        is_active=True, ocpp_id__isnull=False, station__protocol="2.0.1"
    ).select_related("cost")
    unpriced: dict[str, bool] = {}  # station -> whether a tariff applies there, this tick
    for tx in active:
        try:
            row = tx.cost
        except SessionCost.DoesNotExist:
            if unpriced.get(tx.station_id) is False:
                continue
            found = priced(tx, now)
            unpriced[tx.station_id] = found is not None
            if found is None:
                continue
            row = found
        total = current_cost(tx, row, now).total
        if row.sent_total is None or abs(total - row.sent_total) >= step:
            due.append(RunningCost(tx.station_id, tx.transaction_id, total))
    return due


def cost_sent(station_id: str, ocpp_id: str, total: Decimal) -> None:
    SessionCost.objects.filter(
        transaction__station_id=station_id, transaction__ocpp_id=ocpp_id
    ).update(sent_total=total, sent_at=utcnow())
