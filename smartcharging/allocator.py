"""Load management: how a circuit's limit is shared among the sessions under it (issue 18).

The allocator is a pure function of the site's state: every circuit (its limit per phase in A,
derived from its current and power limits) and every session (the circuits above it, its EV's
minimum and maximum current, its priority). It returns each session's current, in A per phase,
with these guarantees:

1. **No circuit is overloaded.** For every circuit, the sum of its sessions' currents is at most
   its limit.
2. **Every session that charges gets at least its minimum.** When the minimums do not all fit,
   sessions are paused (0 A) — lowest priority first, then the latest to start — until they do:
   an EV cannot charge below its minimum, so a smaller share would be a lie.
3. **Fair share, by priority.** Above the minimums, the higher priorities are served first; within
   one priority, the current is raised equally for every session until a session reaches its
   maximum or a circuit its limit (progressive filling, i.e. max-min fairness across the tree).

Currents are per phase; a single-phase session counts on its phase, which this allocator takes to
be every phase (a conservative bound: no phase is overloaded whichever one the EV uses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

EPSILON = 1e-6


@dataclass(frozen=True)
class Session:
    key: str  # the transaction
    circuits: tuple[int, ...]  # every circuit above it, nearest first
    min_a: float = 6.0
    max_a: float = 32.0
    priority: int = 0
    started: float = 0.0  # to pause the latest first when minimums do not fit


@dataclass
class Allocation:
    currents: dict[str, float] = field(default_factory=dict)  # session -> A per phase
    paused: list[str] = field(default_factory=list)  # sessions whose minimum does not fit


def allocate(limits: dict[int, float], sessions: Sequence[Session]) -> Allocation:
    """Each session's current (A per phase) under the circuits' `limits` (A per phase)."""
    result = Allocation()
    used = dict.fromkeys(limits, 0.0)

    def fits(session: Session, amount: float) -> bool:
        return all(used[c] + amount <= limits[c] + EPSILON for c in session.circuits if c in limits)

    # Minimums first: the highest priority, then the earliest, while they fit.
    charging: list[Session] = []
    for session in sorted(sessions, key=lambda s: (-s.priority, s.started, s.key)):
        minimum = min(session.min_a, session.max_a)
        if fits(session, minimum):
            for c in session.circuits:
                if c in used:
                    used[c] += minimum
            result.currents[session.key] = minimum
            charging.append(session)
        else:
            result.currents[session.key] = 0.0
            result.paused.append(session.key)

    # Then the rest, priority by priority, raised together until a maximum or a limit.
    for priority in sorted({s.priority for s in charging}, reverse=True):
        rising = [s for s in charging if s.priority == priority]
        while True:
            full = {c for c, limit in limits.items() if used[c] >= limit - EPSILON}
            rising = [
                s
                for s in rising
                if result.currents[s.key] < s.max_a - EPSILON and not full.intersection(s.circuits)
            ]
            if not rising:
                break
            step = min(s.max_a - result.currents[s.key] for s in rising)
            for circuit, limit in limits.items():
                under = sum(1 for s in rising if circuit in s.circuits)
                if under:
                    step = min(step, (limit - used[circuit]) / under)
            if step <= EPSILON:
                break
            for session in rising:
                result.currents[session.key] += step
                for c in session.circuits:
                    if c in used:
                        used[c] += step
    return result


def limit_a(
    limit_a_value: float | None, limit_w: float | None, voltage: float, phases: int
) -> float:
    """A circuit's limit in A per phase: the tighter of its current and power limits."""
    limits = [limit_a_value] if limit_a_value is not None else []
    if limit_w is not None:
        limits.append(limit_w / (voltage * phases))
    return min(limits) if limits else float("inf")
