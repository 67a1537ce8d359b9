"""Load management: the allocator (smartcharging/allocator.py) applied to the stations, one
cluster job (`load_job`, every OCPP_LOAD_TICK_SECONDS).

Each tick, for every site with circuits: the active sessions of the stations placed on a circuit
(their EV's minimum and maximum from its latest charging needs, else OCPP_EV_MIN_CURRENT_A /
OCPP_EV_MAX_CURRENT_A; their station's priority) are allocated, and each session whose share moved
by OCPP_LOAD_STEP_A or more gets a TxProfile (Relative, one period, its transaction, stack level
OCPP_LOAD_STACK_LEVEL, an id of the allocator's per EVSE so the next one replaces it). Decreases
are sent, and answered, before increases, so that the circuit is never over its limit while the
shares move.

**Offline safety.** Each placed station also gets a TxDefaultProfile on EVSE 0 with its safe share:
the least, over the circuits above it, of the circuit's limit divided by the EVSEs under it. A
session that starts before the allocator has spoken — or while the station has lost the CSMS —
stays within that share, and all of them together within every limit.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from sites.models import Circuit, Placement
from smartcharging import services
from smartcharging.allocator import Session, allocate, limit_a
from smartcharging.models import ChargingNeeds, ChargingProfile
from smartcharging.profiles import DEFAULT, TX, Period, Profile, Schedule
from stations.db import in_db_thread
from stations.models import Connector, Transaction

TX_ID_BASE = 900_000  # the allocator's TxProfile on EVSE n has id TX_ID_BASE + n
DEFAULT_ID = 899_999  # its TxDefaultProfile on EVSE 0


@dataclass(frozen=True)
class Instruction:
    station_id: str
    protocol: str
    profile: Profile
    change_a: float  # negative: a decrease (sent first)


def _chains(circuits: dict[int, Circuit]) -> dict[int, tuple[int, ...]]:
    chains = {}
    for pk in circuits:
        chain, node = [], circuits.get(pk)
        while node is not None:
            chain.append(node.pk)
            node = circuits.get(node.parent_id) if node.parent_id else None
        chains[pk] = tuple(chain)
    return chains


def _relative(
    profile_id: int, evse: int, purpose: str, amps: float, transaction: str = "", unit: str = "A"
) -> Profile:
    # Down to a tenth of an ampere, never up: rounded shares must still add up within the limit.
    schedule = Schedule(1, unit, (Period(0, math.floor(amps * 10 + 1e-9) / 10),))
    return Profile(
        profile_id,
        settings.OCPP_LOAD_STACK_LEVEL,
        purpose,
        "Relative",
        (schedule,),
        evse,
        transaction_id=transaction,
    )


def _last_limit(
    profiles: dict[tuple[str, int], ChargingProfile], station: str, profile_id: int
) -> float | None:
    row = profiles.get((station, profile_id))
    if row is None or row.state not in (ChargingProfile.State.ACTIVE, ChargingProfile.State.SENT):
        return None
    try:
        return float(row.profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _ev_range(need: ChargingNeeds | None, tx: Transaction) -> tuple[float, float]:
    """The EV's minimum and maximum current: from the needs it notified during this session,
    else the defaults."""
    low, high = settings.OCPP_EV_MIN_CURRENT_A, settings.OCPP_EV_MAX_CURRENT_A
    if need is not None and need.notified_at >= tx.started_at:
        low = need.min_current_a if need.min_current_a is not None else low
        high = need.max_current_a if need.max_current_a is not None else high
    return low, high


def plan(force: frozenset[tuple[str, int]] = frozenset()) -> list[Instruction]:
    """What to send this tick, decreases first; `force`: the (station, EVSE)s whose session gets
    its TxProfile even when its share has not moved (an EV that asked for a schedule)."""
    circuits = {c.pk: c for c in Circuit.objects.all()}
    if not circuits:
        return []
    limits = {pk: limit_a(c.limit_a, c.limit_w, c.voltage, c.phases) for pk, c in circuits.items()}
    chains = _chains(circuits)
    placements = {
        p.station_id: p
        for p in Placement.objects.filter(circuit__isnull=False).select_related("station")
    }
    evses: dict[str, list[int]] = {}
    for station_id, evse in Connector.objects.filter(station_id__in=placements).values_list(
        "station_id", "evse_id"
    ):
        evses.setdefault(station_id, []).append(evse)
    known = {
        (p.station_id, p.profile_id): p
        for p in ChargingProfile.objects.filter(
            station_id__in=placements, profile_id__gte=DEFAULT_ID
        )
    }
    needs = {
        (n.station_id, n.evse_id): n
        for n in ChargingNeeds.objects.filter(station_id__in=placements).order_by("notified_at")
    }
    active = list(
        Transaction.objects.filter(station_id__in=placements, is_active=True).select_related(
            "station"
        )
    )

    def chain(station_id: str) -> tuple[int, ...]:
        return chains.get(placements[station_id].circuit_id or 0, ())

    sessions = []
    for tx in active:
        low, high = _ev_range(needs.get((tx.station_id, tx.evse_id)), tx)
        sessions.append(
            Session(
                str(tx.pk),
                chain(tx.station_id),
                min_a=low,
                max_a=high,
                priority=placements[tx.station_id].priority,
                started=tx.started_at.timestamp(),
            )
        )
    # Each placed station's safe share: what a session draws before the allocator has spoken.
    under: dict[int, int] = dict.fromkeys(circuits, 0)
    for station_id in placements:
        for pk in chain(station_id):
            under[pk] += max(1, len(evses.get(station_id, [])))
    safe = {
        station_id: min(limits[pk] / under[pk] for pk in chain(station_id))
        for station_id in placements
    }
    shares = allocate(limits, sessions).currents
    instructions: list[Instruction] = []
    for tx in active:
        amps = shares[str(tx.pk)]
        profile_id = TX_ID_BASE + tx.evse_id
        transaction = tx.ocpp_id or str(tx.pk)
        row = known.get((tx.station_id, profile_id))
        same_session = row is not None and row.transaction_id == transaction
        last = _last_limit(known, tx.station_id, profile_id) if same_session else None
        if (tx.station_id, tx.evse_id) not in force and (
            last is not None and abs(last - amps) < settings.OCPP_LOAD_STEP_A
        ):
            continue
        # A session without a share of its own draws at most its station's safe share: rising
        # from there is an increase, sent once the decreases are in.
        before = last if last is not None else safe[tx.station_id]
        profile = _relative(profile_id, tx.evse_id, TX, amps, transaction)
        protocol = tx.station.protocol or "2.0.1"
        instructions.append(Instruction(tx.station_id, protocol, profile, amps - before))
    for station_id, placement in placements.items():
        last = _last_limit(known, station_id, DEFAULT_ID)
        if last is not None and abs(last - math.floor(safe[station_id] * 10 + 1e-9) / 10) < 0.05:
            continue
        profile = _relative(DEFAULT_ID, 0, DEFAULT, safe[station_id])
        change = safe[station_id] - (last if last is not None else float("inf"))
        protocol = placement.station.protocol or "2.0.1"
        instructions.append(Instruction(station_id, protocol, profile, change))
    return sorted(instructions, key=lambda i: i.change_a)


async def _send(instruction: Instruction) -> None:
    from stations.remote.delivery import send_command  # the remote layer sits above this app
    from stations.remote.results import CommandRefused, Outcome

    payload = instruction.profile.payload(instruction.protocol)
    try:
        result = await send_command(
            instruction.station_id, "SetChargingProfile", payload, source="load"
        )
    except CommandRefused:
        return  # offline: its safe default holds; the next tick tries again
    response = (result.payload or {}) if result.outcome == Outcome.ANSWERED else {}
    await in_db_thread(services.profile_answered)(
        instruction.station_id, instruction.profile, str(response.get("status", "")), "", None
    )


async def tick() -> str:
    return await _apply(await in_db_thread(plan)())


def _for_needs(station_id: str, evse_id: int) -> list[Instruction]:
    """The schedule an EV's charging needs get (K15.FR.07): on a station under a circuit, the
    allocator's share of its session (and what the other sessions' shares become with its new
    minimum and maximum); elsewhere, the EV's own maximum — current for AC, power for DC — so
    that it has a schedule to follow. One period, well within any maxScheduleTuples."""
    tx = (
        Transaction.objects.filter(station_id=station_id, evse_id=evse_id, is_active=True)
        .select_related("station")
        .first()
    )
    if tx is None:
        return []
    if Placement.objects.filter(station_id=station_id, circuit__isnull=False).exists():
        return plan(force=frozenset({(station_id, evse_id)}))
    need = ChargingNeeds.objects.filter(station_id=station_id, evse_id=evse_id).first()
    if need is not None and need.transfer_mode.startswith("DC") and need.max_power_w:
        unit, limit = "W", need.max_power_w
    else:
        unit, limit = "A", _ev_range(need, tx)[1]
    transaction = tx.ocpp_id or str(tx.pk)
    profile = _relative(TX_ID_BASE + evse_id, evse_id, TX, limit, transaction, unit)
    return [Instruction(station_id, tx.station.protocol or "2.0.1", profile, 0.0)]


async def needs_answered(station_id: str, evse_id: int) -> str:
    """After NotifyEVChargingNeeds was answered Accepted: its schedule sent as a TxProfile."""
    return await _apply(await in_db_thread(_for_needs)(station_id, evse_id))


async def _apply(instructions: list[Instruction]) -> str:
    decreases = [i for i in instructions if i.change_a < 0]
    increases = [i for i in instructions if i.change_a >= 0]
    await asyncio.gather(*(_send(i) for i in decreases))  # answered before any increase goes
    await asyncio.gather(*(_send(i) for i in increases))
    return f"sent {len(instructions)} load profiles" if instructions else ""


def load_job() -> Any:
    from stations.background import Job, Scope

    return Job(
        "load management",
        Scope.CLUSTER,
        "OCPP_LOAD_TICK_SECONDS",
        lambda: settings.OCPP_LOAD_TICK_SECONDS,
        tick,
    )
