"""How long a session has charged and idled: the one rule, applied where a transaction's charging
state changes (a 2.0.1 TransactionEvent's chargingState, a 1.6 StatusNotification of its
connector) and read where a session is priced (tariffs).

*Charging* is time in the state Charging. *Idle* is time connected without charging after charging
had begun — SuspendedEV or EVConnected once the EV has drawn energy: the EV is full, or its driver
has not come back. SuspendedEVSE is never idle: the station (or the CSMS's load management) holds
the EV back, and a driver is not charged for that.
"""

from __future__ import annotations

from datetime import datetime

from stations.models import Transaction

CHARGING = "Charging"
IDLE_STATES = frozenset({"SuspendedEV", "EVConnected"})
# 1.6 connector statuses that are a charging state of the connector's transaction.
STATES_16 = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE"})


def _elapsed(tx: Transaction, until: datetime) -> float:
    if tx.state_since is None:
        return 0.0
    return max(0.0, (until - tx.state_since).total_seconds())


def change_state(tx: Transaction, state: str, when: datetime) -> None:
    """The transaction enters `state` at `when`: the period it leaves is added to its sum. An
    event that comes late (queued offline, older than the current period) changes nothing: it
    tells of the past, and the state since then is already known."""
    if state == tx.charging_state and tx.state_since is not None:
        return
    if tx.state_since is not None and when < tx.state_since:
        return
    charged, idled = times(tx, when)
    tx.charging_seconds, tx.idle_seconds = charged, idled
    tx.charging_state = state
    tx.state_since = when


def close(tx: Transaction, when: datetime) -> None:
    """The session has ended at `when`: the open period is added, and no period stays open."""
    tx.charging_seconds, tx.idle_seconds = times(tx, when)
    tx.state_since = None


def times(tx: Transaction, until: datetime) -> tuple[float, float]:
    """(charging, idle) seconds up to `until`, the open period included."""
    charged, idled = tx.charging_seconds, tx.idle_seconds
    elapsed = _elapsed(tx, until)
    if tx.charging_state == CHARGING:
        charged += elapsed
    elif tx.charging_state in IDLE_STATES and charged > 0:
        idled += elapsed
    return charged, idled
