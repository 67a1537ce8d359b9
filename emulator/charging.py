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
    limit_w: float


def profile_limit_w(schedule: dict[str, Any]) -> float:
    """The limit of the schedule's first period, in W (A are converted at 230 V per phase)."""
    period = schedule["charging_schedule_period"][0]
    limit = float(period["limit"])
    if schedule["charging_rate_unit"] == "A":
        phases = period.get("number_phases") or PHASES
        return limit * VOLTS * phases
    return limit


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

    def limit_for(self, evse_id: int) -> float | None:
        """The highest-stack profile for this EVSE, or the station-wide one (EVSE 0)."""
        relevant = [p for p in self.profiles.values() if p.evse_id in (0, evse_id)]
        if not relevant:
            return None
        return max(relevant, key=lambda p: (p.stack_level, p.evse_id)).limit_w
