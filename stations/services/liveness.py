"""Stations that go away without saying so, and the transactions they leave open.

A station can vanish in three silent ways, and each has its detector:

- its socket goes half-open (a mobile link dies): the ASGI server's WebSocket ping times out and
  closes the socket, which ends in `station_disconnected`;
- its socket stays open but carries nothing (hung firmware, a proxy that answers pings itself):
  the silence watch in each worker (`stations.liveness`) closes it after OCPP_SILENCE_TIMEOUT,
  through `station_silent`;
- the worker process holding its socket dies (SIGKILL, out of memory): nothing in that process
  can say so, and the row still reads connected. `mark_dead_connections_offline`, a job of the
  whole cluster (one worker runs it: stations/background.py), marks it offline once its presence is
  older than any live worker would let it get.

Open transactions are never closed on a guess: the station may still deliver its queued
StopTransaction. A station that boots again with a transaction open, or stays offline for
OCPP_STALE_TRANSACTION_AFTER, gets that transaction flagged for the operator; the next message
about it clears the flag. Every flag, clearing and presumed disconnection leaves a StationEvent,
the audit trail of what the CSMS decided on its own.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from stations import db
from stations.clock import utcnow
from stations.events import publish
from stations.models import FlagReason, Station, StationEvent, Transaction
from stations.services.connections import station_release
from stations.sql import SelectOne

_open_unflagged = SelectOne(
    Transaction, ["station"], condition=lambda q: f"{q('is_active')} AND {q('flagged_at')} IS NULL"
)

# Close codes a station may see, and what they mean (4000-4999 are the application's own).
CLOSE_REPLACED = 4000
CLOSE_SILENT = 4001
_CLOSE_REASONS: dict[int | None, str] = {
    1000: "closed normally",
    1001: "going away",
    1006: "connection lost without a close frame",
    1009: "frame too large",
    1011: "server error",
    CLOSE_REPLACED: "replaced by a newer connection",
    CLOSE_SILENT: "silent for longer than OCPP_SILENCE_TIMEOUT",
}


def station_disconnected(identity: str, session: int, code: int | None) -> bool:
    """Mark the station offline after its socket closed, unless a newer one took over, and note
    why it closed. Returns whether this socket was still the live one."""
    return _release(
        identity,
        session,
        "Disconnected",
        f"Code {code}: {_CLOSE_REASONS.get(code, 'closed')}",
        {"code": code, "session": session},
    )


def station_silent(identity: str, session: int, silent_for: float) -> bool:
    """The silence watch gave up on this socket: mark the station offline now, before the close
    handshake (which a half-open socket never completes) runs its course."""
    return _release(
        identity,
        session,
        "SilenceTimeout",
        f"No frame for {silent_for:.0f} s (OCPP_SILENCE_TIMEOUT is "
        f"{settings.OCPP_SILENCE_TIMEOUT:g} s); connection closed with {CLOSE_SILENT}",
        {"silent_for": round(silent_for, 3), "session": session},
    )


def _release(identity: str, session: int, type_: str, message: str, data: dict) -> bool:
    """Release the row if `session` is still the live one, with a connection event saying why."""
    with db.atomic():
        released = station_release(identity, session)
        if released:
            StationEvent.objects.create(
                station_id=identity,
                kind=StationEvent.Kind.CONNECTION,
                type=type_,
                message=message,
                data=data,
            )
    return released


def dead_connection_cutoff() -> float:
    """Seconds without presence after which no live worker can still hold a station's socket:
    its own silence watch would have closed it after OCPP_SILENCE_TIMEOUT, and presence is written
    every OCPP_PRESENCE_FLUSH_SECONDS. Twice both, for a worker that is merely slow."""
    return 2 * (settings.OCPP_SILENCE_TIMEOUT + settings.OCPP_PRESENCE_FLUSH_SECONDS)


def mark_dead_connections_offline() -> str:
    """Rows still marked connected whose worker process died. Run once per cluster (the holder of
    the cluster lock), yet safe in several workers at once: each row is released only if its
    session and stale presence are unchanged."""
    if settings.OCPP_SILENCE_TIMEOUT <= 0:
        return ""
    now = utcnow()
    cutoff = now - timedelta(seconds=dead_connection_cutoff())
    stale = Station.objects.filter(connected=True, last_seen_at__lt=cutoff).values_list(
        "pk", "session", "last_seen_at"
    )
    released = []
    for identity, session, last_seen in stale:
        assert last_seen is not None  # last_seen_at < cutoff: never NULL
        with transaction.atomic():
            if not Station.objects.filter(
                pk=identity, session=session, connected=True, last_seen_at__lt=cutoff
            ).update(connected=False, channel_name="", disconnected_at=now):
                continue
            StationEvent.objects.create(
                station_id=identity,
                kind=StationEvent.Kind.CONNECTION,
                type="PresumedOffline",
                message=(
                    f"Marked offline: nothing heard since {last_seen:%Y-%m-%d %H:%M:%S}Z and no "
                    "worker process holds its connection any more"
                ),
                data={"session": session, "last_seen_at": last_seen.isoformat()},
            )
            publish("station", id=identity, connected=False)
            released.append(identity)
    return (
        f"marked {len(released)} stations offline: {', '.join(released[:20])}" if released else ""
    )


def flag_open_transactions(identity: str, reason: FlagReason, detail: str) -> int:
    """Flag the station's open, unflagged transactions; one prepared query when there are none
    (every boot asks)."""
    if _open_unflagged.get(identity) is None:
        return 0
    ids = list(
        Transaction.objects.filter(station_id=identity, is_active=True, flagged_at__isnull=True)
        .order_by()
        .values_list("pk", flat=True)
    )
    if ids:
        _flag(identity, ids, reason, detail)
    return len(ids)


def flag_stale_transactions() -> str:
    """Open transactions of stations offline for longer than OCPP_STALE_TRANSACTION_AFTER (a job of
    the whole cluster)."""
    after = settings.OCPP_STALE_TRANSACTION_AFTER
    if after <= 0:
        return ""
    cutoff = utcnow() - timedelta(seconds=after)
    found: dict[str, list[int]] = {}
    for pk, station_id in Transaction.objects.filter(
        is_active=True,
        flagged_at__isnull=True,
        station__connected=False,
        station__disconnected_at__lt=cutoff,
    ).values_list("pk", "station_id"):
        found.setdefault(station_id, []).append(pk)
    for station_id, ids in found.items():
        _flag(
            station_id,
            ids,
            FlagReason.STATION_OFFLINE,
            f"the station has been offline for more than {after:g} s",
        )
    count = sum(len(ids) for ids in found.values())
    return f"flagged {count} open transactions of offline stations" if count else ""


def clear_flag(tx: Transaction, action: str) -> None:
    """The station spoke of a flagged transaction again: it still knows it, so the flag goes."""
    if tx.flagged_at is None:
        return
    reason = tx.flag_reason
    Transaction.objects.filter(pk=tx.pk).update(flagged_at=None, flag_reason="")
    tx.flagged_at, tx.flag_reason = None, ""
    StationEvent.objects.create(
        station_id=tx.station_id,
        kind=StationEvent.Kind.AUDIT,
        type="TransactionFlagCleared",
        message=f"Transaction {tx.transaction_id}: flag {reason} cleared by the station's {action}",
        data={"transaction": tx.pk, "reason": reason, "action": action},
    )
    publish("transaction_flag", id=tx.pk, station=tx.station_id, reason="")


def _flag(station_id: str, ids: list[int], reason: FlagReason, detail: str) -> None:
    now = utcnow()
    with db.atomic():
        Transaction.objects.filter(pk__in=ids, flagged_at__isnull=True).update(
            flagged_at=now, flag_reason=reason
        )
        StationEvent.objects.bulk_create(
            StationEvent(
                station_id=station_id,
                kind=StationEvent.Kind.AUDIT,
                type="TransactionFlagged",
                message=f"Open transaction (row {pk}) flagged {reason.value}: {detail}",
                data={"transaction": pk, "reason": reason.value},
            )
            for pk in ids
        )
    for pk in ids:
        publish("transaction_flag", id=pk, station=station_id, reason=reason.value)
