"""Charging profiles as the emulator applies them: the first period's limit caps the power."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VOLTS, PHASES = 230, 3


@dataclass
class Profile:
    id: int
    evse_id: int
    stack_level: int
    limit: float
    unit: str  # "W" or "A", as the CSMS sent it
    phases: int = PHASES

    @property
    def limit_w(self) -> float:
        return self.limit if self.unit == "W" else self.limit * VOLTS * self.phases

    def limit_in(self, unit: str) -> float:
        """The limit in W or A, converted with this profile's own number of phases."""
        if unit == self.unit:
            return self.limit
        return self.limit_w if unit == "W" else self.limit_w / (VOLTS * self.phases)


def profile_from(
    profile_id: int, evse_id: int, stack_level: int, schedule: dict[str, Any]
) -> Profile:
    """A profile from its (snake_case) charging schedule: the first period counts."""
    period = schedule["charging_schedule_period"][0]
    return Profile(
        id=profile_id,
        evse_id=evse_id,
        stack_level=stack_level,
        limit=float(period["limit"]),
        unit=schedule["charging_rate_unit"],
        phases=period.get("number_phases") or PHASES,
    )


class ProfileStore:
    def __init__(self) -> None:
        self.profiles: dict[int, Profile] = {}

    def set(self, profile: Profile) -> None:
        self.profiles[profile.id] = profile

    def clear(self, profile_id: int | None = None, evse_id: int | None = None) -> bool:
        doomed = [
            p.id
            for p in self.profiles.values()
            if (profile_id is None or p.id == profile_id)
            and (evse_id is None or p.evse_id == evse_id)
        ]
        for pid in doomed:
            del self.profiles[pid]
        return bool(doomed)

    def top_for(self, evse_id: int) -> Profile | None:
        """The highest-stack profile for this EVSE, or the station-wide one (EVSE 0)."""
        relevant = [p for p in self.profiles.values() if p.evse_id in (0, evse_id)]
        if not relevant:
            return None
        return max(relevant, key=lambda p: (p.stack_level, p.evse_id))

    def limit_for(self, evse_id: int) -> float | None:
        top = self.top_for(evse_id)
        return top.limit_w if top else None

    def composite_limit(self, evse_id: int, unit: str, default_w: float) -> float:
        top = self.top_for(evse_id)
        if top is not None:
            return top.limit_in(unit)
        return default_w if unit == "W" else default_w / (VOLTS * PHASES)
