"""Transactions from both protocol versions, applied exactly once.

- 1.6 transaction ids are this database's primary keys. A resent StartTransaction (same connector,
  same timestamp) finds its row and gets the same id; a resent StopTransaction finds the row already
  stopped and changes nothing.
- 2.0.1 ids are the station's own strings, always looked up together with the station. Each applied
  TransactionEvent leaves a row keyed by (transaction, seqNo): a resent event finds it and is answered
  without being applied again.
- Meter samples are unique per (station, connector, time, measurand, phase, location, context), so
  resent meter values are never stored twice.
- A message about a transaction this station does not own changes nothing and leaves a StationEvent.
- Any message about a flagged transaction clears its flag (see stations.services.liveness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from stations import db
from stations.clock import ocpp_time, utcnow
from stations.events import publish
from stations.group_commit import Call, applies_many
from stations.models import Command, StationEvent, Transaction, TransactionEvent
from stations.reservation_link import link as reservations
from stations.services import charging_time
from stations.services.authorization import Authorization, PresentedToken, authorize
from stations.services.liveness import clear_flag
from stations.services.meter_values import (
    Sample,
    SampleRow,
    insert_sample_rows,
    latest_energy_wh,
    sample_rows,
    store_samples,
)
from stations.services.status import ConnectorStatus, record_connector_status
from stations.sql import BulkInsert, SelectMany, SelectOne, UpdateMany, update_fields

# The statements every meter reading runs, prepared once (see stations.sql for why).
_tx_16 = SelectOne(Transaction, ["id", "station"], condition=lambda q: f"{q('ocpp_id')} IS NULL")
_tx_201_locked = SelectOne(Transaction, ["station", "ocpp_id"], for_update=True)
_txs_16 = SelectMany(Transaction, ["id"], condition=lambda q: f"{q('ocpp_id')} IS NULL")
_txs_201_locked = SelectMany(Transaction, ["station", "ocpp_id"], for_update=True)
_insert_event = BulkInsert(
    TransactionEvent,
    ["transaction", "seq_no", "event_type", "trigger_reason", "timestamp", "offline"],
    ignore_conflicts=True,
)
# What a TransactionEvent may change on its transaction row.
_EVENT_FIELDS = (
    "evse_id",
    "connector_id",
    "id_token",
    "id_token_type",
    "authorization_status",
    "charging_state",
    "state_since",
    "charging_seconds",
    "idle_seconds",
    "remote_start_id",
    "reservation_id",
    "offline",
    "last_seq_no",
    "started_at",
    "stopped_at",
    "is_active",
    "stop_reason",
    "energy_wh",
    "meter_start_wh",
    "meter_stop_wh",
)


@dataclass(frozen=True, slots=True)
class StartTransaction:
    """A 1.6 StartTransaction: the station asks for a transaction id (this database's key)."""

    connector_id: int
    id_tag: str
    meter_start_wh: int
    timestamp: datetime
    reservation_id: int | None = None


@dataclass(frozen=True, slots=True)
class StopTransaction:
    """A 1.6 StopTransaction, with the samples of its transactionData."""

    transaction_id: int
    meter_stop_wh: int
    timestamp: datetime
    reason: str = ""
    id_tag: str | None = None
    samples: Sequence[Sample] = ()


@dataclass(frozen=True, slots=True)
class MeterReport:
    """MeterValues of one EVSE (1.6: connector), about a transaction (1.6 only) or none."""

    evse_id: int
    samples: Sequence[Sample]
    transaction_id: int | None = None


@dataclass(frozen=True, slots=True)
class TransactionUpdate:
    """A 2.0.1 TransactionEvent: one numbered step (seqNo) of the station's own transaction."""

    event_type: str  # Started, Updated or Ended
    timestamp: datetime
    trigger_reason: str
    seq_no: int
    transaction_id: str
    charging_state: str | None = None
    remote_start_id: int | None = None
    stopped_reason: str | None = None
    offline: bool = False
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: PresentedToken | None = None
    samples: Sequence[Sample] = ()
    reservation_id: int | None = None


@dataclass(frozen=True)
class Started:
    transaction_id: int
    authorization: Authorization


def transaction_start_16(identity: str, start: StartTransaction) -> Started:
    connector_id, timestamp, reservation_id = (
        start.connector_id,
        start.timestamp,
        start.reservation_id,
    )
    authorization = authorize(start.id_tag)
    existing = _find_16_start(identity, connector_id, timestamp)
    if existing is not None:
        return Started(existing, authorization)
    try:
        with transaction.atomic():
            created = Transaction.objects.create(
                station_id=identity,
                evse_id=connector_id,
                connector_id=1,
                id_token=start.id_tag,
                authorization_status=authorization.status,
                started_at=timestamp,
                meter_start_wh=start.meter_start_wh,
                reservation_id=_own_reservation(identity, reservation_id),
            )
            if reservation_id is not None:
                reservations.use(identity, reservation_id, created.pk)
            _announce(created)
    except IntegrityError:
        # The same start, stored by a concurrent connection of this station a moment ago.
        existing = _find_16_start(identity, connector_id, timestamp)
        if existing is None:
            raise
        return Started(existing, authorization)
    return Started(created.pk, authorization)


def _find_16_start(identity: str, connector_id: int, timestamp: datetime) -> int | None:
    return (
        Transaction.objects.filter(
            station_id=identity, evse_id=connector_id, started_at=timestamp, ocpp_id__isnull=True
        )
        .values_list("pk", flat=True)
        .first()
    )


def transaction_stop_16(identity: str, stop: StopTransaction) -> Authorization | None:
    authorization = authorize(stop.id_tag) if stop.id_tag else None
    transaction_id, meter_stop, samples = stop.transaction_id, stop.meter_stop_wh, stop.samples
    with db.atomic():
        tx = (
            Transaction.objects.select_for_update()
            .filter(pk=transaction_id, station_id=identity, ocpp_id__isnull=True)
            .first()
        )
        if tx is None:
            _anomaly(
                identity,
                "UnknownTransactionStop",
                f"StopTransaction for transaction {transaction_id}, which this station does not own",
                {"transaction_id": transaction_id, "meter_stop": meter_stop},
            )
            return authorization
        clear_flag(tx, "StopTransaction")
        store_samples(
            samples,
            station_id=identity,
            evse_id=tx.evse_id,
            connector_id=tx.connector_id,
            transaction_id=tx.pk,
        )
        if tx.is_active:
            tx.is_active = False
            tx.stopped_at = stop.timestamp
            tx.meter_stop_wh = meter_stop
            tx.stop_reason = stop.reason or "Local"
            tx.energy_wh = max(0.0, meter_stop - (tx.meter_start_wh or 0))
            charging_time.close(tx, stop.timestamp)
            tx.save(
                update_fields=[
                    "is_active",
                    "stopped_at",
                    "meter_stop_wh",
                    "stop_reason",
                    "energy_wh",
                    "charging_seconds",
                    "idle_seconds",
                    "state_since",
                    "updated_at",
                ]
            )
            _announce(tx, samples)
    return authorization


def connector_status_16(identity: str, report: ConnectorStatus) -> None:
    """A 1.6 StatusNotification that is a charging state (Charging, SuspendedEV, SuspendedEVSE):
    the connector's status, and the charging state of its open transaction, whose clock of
    charging and idle time (stations.services.charging_time) it moves."""
    record_connector_status(identity, report)
    with db.atomic():
        tx = (
            Transaction.objects.select_for_update()
            .filter(station_id=identity, evse_id=report.evse_id, is_active=True)
            .order_by("-started_at")
            .first()
        )
        if tx is None:
            return
        charging_time.change_state(tx, report.status, report.timestamp or utcnow())
        update_fields(tx, ["charging_state", "state_since", "charging_seconds", "idle_seconds"])


def meter_values_16(identity: str, report: MeterReport) -> None:
    connector_id, transaction_id, samples = report.evse_id, report.transaction_id, report.samples
    with db.atomic():
        tx = None
        if transaction_id is not None:
            tx = _tx_16.get(transaction_id, identity)
            if tx is not None:
                clear_flag(tx, "MeterValues")
            else:
                _anomaly(
                    identity,
                    "UnknownTransactionMeterValues",
                    f"MeterValues for transaction {transaction_id}, which this station does not own",
                    {"transaction_id": transaction_id},
                )
        store_samples(
            samples,
            station_id=identity,
            evse_id=connector_id,
            connector_id=1,
            transaction_id=tx.pk if tx else None,
        )
        if tx is not None and tx.is_active:
            _apply_energy(tx, samples)
            _announce(tx, samples, station_id=identity, evse_id=connector_id)


def meter_values_201(identity: str, report: MeterReport) -> None:
    """2.0.1 MeterValues are outside transactions (those come in TransactionEvent)."""
    store_samples(
        report.samples,
        station_id=identity,
        evse_id=report.evse_id,
        connector_id=1,
        transaction_id=None,
    )


@applies_many(meter_values_16)
def meter_values_16_many(calls: list[Call]) -> list[None]:
    """`meter_values_16` for a batch of stations at once: one SELECT for their transactions, one
    INSERT for every sample, one UPDATE for every energy that moved. A reading that is not the
    common case (a transaction this station does not own) goes through `meter_values_16`."""
    reports: list[tuple[str, MeterReport]] = [(args[0], args[1]) for args, _ in calls]
    ids = [(r.transaction_id,) for _, r in reports if r.transaction_id is not None]
    found = {tx.pk: tx for tx in _txs_16.get_many(ids)}
    rows: list[SampleRow] = []
    metered: list[tuple[str, MeterReport, Transaction]] = []
    for identity, report in reports:
        tx = found.get(report.transaction_id) if report.transaction_id is not None else None
        if report.transaction_id is not None and (tx is None or tx.station_id != identity):
            meter_values_16(identity, report)  # the anomaly, as for one message
            continue
        if tx is not None:
            clear_flag(tx, "MeterValues")
        rows += sample_rows(report.samples, identity, report.evse_id, 1, tx.pk if tx else None)
        if tx is not None and tx.is_active:
            metered.append((identity, report, tx))
    insert_sample_rows(rows)
    moved = [tx for _, report, tx in metered if _moved_energy(tx, report.samples)]
    _energy.run(moved)
    for identity, report, tx in metered:
        _announce(tx, report.samples, station_id=identity, evse_id=report.evse_id)
    return [None] * len(calls)


def _moved_energy(tx: Transaction, samples: Sequence[Sample]) -> bool:
    before = (tx.energy_wh, tx.meter_start_wh)
    _apply_energy(tx, samples, save=False)
    return (tx.energy_wh, tx.meter_start_wh) != before


_energy = UpdateMany(Transaction, ["energy_wh", "meter_start_wh"])


def transaction_event_201(
    identity: str,
    event: TransactionUpdate,
    *,
    remote_start_tokens: dict[int, PresentedToken] | None = None,
) -> Authorization | None:
    id_token = event.id_token
    authorization = authorize(id_token.value) if id_token else None
    when, samples, ocpp_id, seq_no = (
        event.timestamp,
        event.samples,
        event.transaction_id,
        event.seq_no,
    )
    with db.atomic():
        tx = _tx_201_locked.get(identity, ocpp_id)
        if tx is None:
            if event.event_type != "Started":
                _anomaly(
                    identity,
                    "TransactionWithoutStart",
                    f"First event seen for transaction {ocpp_id} is {event.event_type} "
                    f"(seqNo {seq_no})",
                    {"transaction_id": ocpp_id, "seq_no": seq_no},
                )
            tx = Transaction.objects.create(
                station_id=identity,
                ocpp_id=ocpp_id,
                evse_id=event.evse_id or 0,
                connector_id=event.connector_id or 1,
                started_at=when,
                meter_start_wh=latest_energy_wh(samples) if event.event_type == "Started" else None,
            )
        # Unique on (transaction, seqNo): nothing inserted means a resend, answered, not applied.
        row = (tx.pk, seq_no, event.event_type, event.trigger_reason, when, event.offline)
        if not _insert_event.run([row]):
            return authorization
        clear_flag(tx, "TransactionEvent")
        if not tx.is_active and tx.stopped_at is not None:
            # The transaction has ended: the event and its samples are stored as they came, but a
            # closed transaction's figures are final (its energy stays stop - start).
            store_samples(
                samples,
                station_id=identity,
                evse_id=tx.evse_id,
                connector_id=tx.connector_id,
                transaction_id=tx.pk,
            )
            _anomaly(
                identity,
                "EventAfterEnded",
                f"TransactionEvent {event.event_type} (seqNo {seq_no}) for transaction {ocpp_id}, "
                "which had already ended",
                {"transaction_id": ocpp_id, "seq_no": seq_no, "event_type": event.event_type},
            )
            return authorization
        if id_token is None and tx.id_token == "" and event.remote_start_id is not None:
            id_token = remote_start_token(
                identity, event.remote_start_id, known=remote_start_tokens
            )
            if id_token is not None:
                authorization = authorize(id_token.value)
        before = [getattr(tx, name) for name in _EVENT_FIELDS]
        _apply_transaction_event(
            tx,
            event,
            id_token=id_token,
            authorization=authorization,
            reservation_id=_own_reservation(identity, event.reservation_id),
        )
        store_samples(
            samples,
            station_id=identity,
            evse_id=tx.evse_id,
            connector_id=tx.connector_id,
            transaction_id=tx.pk,
        )
        _apply_energy(tx, samples, save=False)
        if event.event_type == "Ended":
            _close_energy(tx, latest_energy_wh(samples))
        changed = [n for n, old in zip(_EVENT_FIELDS, before, strict=True) if getattr(tx, n) != old]
        if changed:
            tx.updated_at = utcnow()
            update_fields(tx, [*changed, "updated_at"])
        if event.reservation_id is not None:
            reservations.use(identity, event.reservation_id, tx.pk)
        _announce(tx, samples)
    return authorization


def _apply_transaction_event(
    tx: Transaction,
    event: TransactionUpdate,
    *,
    id_token: PresentedToken | None,
    authorization: Authorization | None,
    reservation_id: int | None,
) -> None:
    if event.evse_id and not tx.evse_id:
        tx.evse_id = event.evse_id
        tx.connector_id = event.connector_id or 1
    if id_token and not tx.id_token:
        tx.id_token = id_token.value
        tx.id_token_type = id_token.type
        tx.authorization_status = authorization.status if authorization else ""
    if event.charging_state is not None:
        charging_time.change_state(tx, event.charging_state, event.timestamp)
    if event.remote_start_id is not None:
        tx.remote_start_id = event.remote_start_id
    if reservation_id is not None:
        tx.reservation_id = reservation_id
    tx.offline = tx.offline or event.offline
    seq_no = event.seq_no
    tx.last_seq_no = seq_no if tx.last_seq_no is None else max(tx.last_seq_no, seq_no)
    if event.event_type == "Started" and event.timestamp < tx.started_at:
        tx.started_at = event.timestamp
    if event.event_type == "Ended":
        tx.is_active = False
        tx.stopped_at = event.timestamp
        tx.stop_reason = event.stopped_reason or "Local"
        charging_time.close(tx, event.timestamp)


# What a periodic TransactionEvent (Updated, no token, no reservation) may change on its row.
_UPDATED_FIELDS = ("evse_id", "connector_id", "charging_state", "state_since", "charging_seconds",
                   "idle_seconds", "remote_start_id", "offline", "last_seq_no", "energy_wh",
                   "meter_start_wh", "updated_at")  # fmt: skip
_updated = UpdateMany(Transaction, _UPDATED_FIELDS)


@applies_many(transaction_event_201)
def transaction_event_201_many(calls: list[Call]) -> list[Authorization | None]:
    """`transaction_event_201` for a batch of stations at once, for the common case: an Updated
    event, carrying no ID token and no reservation, of a transaction that is under way. Their rows
    are locked with one SELECT, their events inserted with one INSERT (a resent seqNo comes back
    out of it: answered, not applied), their samples with one, their rows updated with one. Any
    other event goes through `transaction_event_201`, in the same transaction."""
    events: list[tuple[str, TransactionUpdate, dict[str, Any]]] = [
        (args[0], args[1], kwargs) for args, kwargs in calls
    ]
    results: list[Authorization | None] = [None] * len(events)
    keys = [
        (identity, event.transaction_id)
        for identity, event, _ in events
        if event.event_type == "Updated" and event.id_token is None
    ]
    rows = {(tx.station_id, tx.ocpp_id): tx for tx in _txs_201_locked.get_many(keys)}
    common: list[tuple[int, str, TransactionUpdate, Transaction]] = []
    for index, (identity, event, kwargs) in enumerate(events):
        tx = rows.get((identity, event.transaction_id))
        usual = (
            tx is not None
            and event.event_type == "Updated"
            and event.id_token is None
            and event.reservation_id is None
            and not (not tx.is_active and tx.stopped_at is not None)
            and not (tx.id_token == "" and event.remote_start_id is not None)
        )
        if tx is None or not usual:
            results[index] = transaction_event_201(identity, event, **kwargs)
        else:
            common.append((index, identity, event, tx))
    if not common:
        return results
    inserted = set(
        _insert_event.run_returning(
            [
                (tx.pk, e.seq_no, e.event_type, e.trigger_reason, e.timestamp, e.offline)
                for _, _, e, tx in common
            ],
            ["transaction", "seq_no"],
        )
    )
    applied = [(i, s, e, tx) for i, s, e, tx in common if (tx.pk, e.seq_no) in inserted]
    samples: list[SampleRow] = []
    changed: list[Transaction] = []
    now = utcnow()
    for _, identity, event, tx in applied:
        clear_flag(tx, "TransactionEvent")
        before = [getattr(tx, name) for name in _UPDATED_FIELDS]
        _apply_transaction_event(tx, event, id_token=None, authorization=None, reservation_id=None)
        samples += sample_rows(event.samples, identity, tx.evse_id, tx.connector_id, tx.pk)
        _apply_energy(tx, event.samples, save=False)
        if [getattr(tx, name) for name in _UPDATED_FIELDS] != before:
            tx.updated_at = now
            changed.append(tx)
    insert_sample_rows(samples)
    _updated.run(changed)
    for _, _, event, tx in applied:
        _announce(tx, event.samples)
    return results


def _close_energy(tx: Transaction, reading: float | None) -> None:
    """At the end, energy is exactly stop - start: the last reading if the Ended event carried one,
    else the highest reading seen during the transaction."""
    if reading is not None:
        tx.meter_stop_wh = reading
    elif tx.meter_start_wh is not None:
        tx.meter_stop_wh = tx.meter_start_wh + tx.energy_wh
    if tx.meter_stop_wh is not None and tx.meter_start_wh is not None:
        tx.energy_wh = max(0.0, tx.meter_stop_wh - tx.meter_start_wh)


def remote_start_token(
    identity: str, remote_start_id: int, *, known: dict[int, PresentedToken] | None = None
) -> PresentedToken | None:
    """The ID token of the CSMS's own RequestStartTransaction with this `remoteStartId`.

    A station may leave `idToken` out of the TransactionEvent that answers a remote start (E02,
    F01: it was given in the request). The socket that sent the request remembers it (`known`);
    after a reconnect the recorded command has it."""
    if known and remote_start_id in known:
        return known[remote_start_id]
    payload = (
        Command.objects.filter(
            station_id=identity,
            action="RequestStartTransaction",
            payload__remoteStartId=remote_start_id,
        )
        .values_list("payload", flat=True)
        .first()
    )
    if not payload or "idToken" not in payload:
        return None
    # The recorded request is the CSMS's own wire payload (camelCase, as sent).
    token = payload["idToken"]
    return PresentedToken(token.get("idToken", ""), token.get("type", ""))


def _own_reservation(identity: str, reservation_id: int | None) -> int | None:
    """The reservation id to link a transaction to: only one of this station's own (another
    station's id is reported as an anomaly by `reservations.use`, and never linked)."""
    if reservation_id is None or not reservations.owned(identity, reservation_id):
        return None
    return reservation_id


def _apply_energy(tx: Transaction, samples: Sequence[Sample], *, save: bool = True) -> None:
    """Energy delivered = latest register reading - the reading at start (never decreasing)."""
    reading = latest_energy_wh(samples)
    if reading is None:
        return
    if tx.meter_start_wh is None:
        tx.meter_start_wh = reading
    energy = max(tx.energy_wh, reading - tx.meter_start_wh)
    if energy != tx.energy_wh:
        tx.energy_wh = energy
        if save:
            update_fields(tx, ["energy_wh", "meter_start_wh"])


def _announce(
    tx: Transaction,
    samples: Sequence[Sample] = (),
    *,
    station_id: str | None = None,
    evse_id: int | None = None,
) -> None:
    """Tell the dashboard where a transaction stands (after commit)."""
    power = next((s.value for s in reversed(samples) if s.measurand == "Power.Active.Import"), None)
    publish(
        "transaction",
        id=tx.pk,
        station=station_id or tx.station_id,
        evse_id=evse_id if evse_id is not None else tx.evse_id,
        active=tx.is_active,
        energy_wh=round(tx.energy_wh, 1),
        power_w=power,
        sampled_at=ocpp_time(samples[-1].timestamp) if samples else None,
    )


def _anomaly(identity: str, type_: str, message: str, data: dict[str, Any]) -> None:
    StationEvent.objects.create(
        station_id=identity, kind=StationEvent.Kind.ANOMALY, type=type_, message=message, data=data
    )
