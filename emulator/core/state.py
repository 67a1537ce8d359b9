"""What the station knows about its connectors, reservations and transactions, and its counters.

Plain data, shared by the core and both protocol versions: the core changes it as a driver or the
CSMS acts, a version's blocks read it to build their payloads. Connector statuses use the 1.6
vocabulary, the richer one; 2.0.1 maps it down when it reports (`emulator.v201.availability`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime


@dataclass
class Reservation:
    id: int
    id_token: str
    expires_at: datetime


@dataclass
class Transaction:
    local_id: str
    evse_id: int
    id_token: str
    meter_start_wh: float
    started_at: datetime
    csms_id: int | str | None = None  # 1.6: StartTransaction.conf; 2.0.1: our own id
    seq_no: int = 0
    remote_start_id: int | None = None
    reservation_id: int | None = None
    meter_task: asyncio.Task[None] | None = None
    deauthorized: bool = False

    def next_seq_no(self) -> int:
        value = self.seq_no
        self.seq_no += 1
        return value


@dataclass
class Connector:
    """One EVSE with one connector: a 1.6 connector N is 2.0.1 EVSE N, connector 1."""

    evse_id: int
    meter_wh: float
    status: str = "Available"  # 1.6 vocabulary
    operative: bool = True
    faulted: bool = False
    reservation: Reservation | None = None
    transaction: Transaction | None = None
    limit_w: float | None = None  # from charging profiles
    metered_at: float | None = None  # loop time of the last meter advance

    @property
    def free(self) -> bool:
        return self.operative and not self.faulted and self.transaction is None

    def available_for(self, id_token: str, now: datetime) -> bool:
        """Free, and not held by a reservation for someone else."""
        if not self.free:
            return False
        reservation = self.reservation
        if reservation is None or reservation.expires_at <= now:
            return True
        return reservation.id_token == id_token


@dataclass
class Stats:
    """Counters a load test reads (`emulator.fleet`) and tests assert on."""

    sent: int = 0
    received: int = 0
    connects: int = 0
    boots: int = 0
    dropped: int = 0
