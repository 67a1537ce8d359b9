"""Smart charging (2.0.1 block K, 1.6 SmartCharging): charging profiles as the emulator applies
them.

The emulator keeps one limit per profile, the first period's, and the highest stack level wins
(the station-wide EVSE 0 profile counts for every EVSE); that limit caps the power the meter
(`emulator.core.metering`) charges at. The rules are the same in both versions: a TxProfile needs
its transaction running on that EVSE (1.6 §3.13.2 and §5.16, 2.0.1 K01.FR.09 and K01.FR.16); a
version only says where the profile's id and schedule are in its messages (`_profile`).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.protocol.base import ProtocolBase

if TYPE_CHECKING:
    from emulator.station import EmulatedStation

VOLTS, PHASES = 230, 3


@dataclass
class Profile:
    id: int
    evse_id: int
    stack_level: int
    limit: float
    unit: str  # "W" or "A", as the CSMS sent it
    phases: int = PHASES
    purpose: str = ""

    @property
    def limit_w(self) -> float:
        return self.limit if self.unit == "W" else self.limit * VOLTS * self.phases

    def limit_in(self, unit: str) -> float:
        """The limit in W or A, converted with this profile's own number of phases."""
        if unit == self.unit:
            return self.limit
        return self.limit_w if unit == "W" else self.limit_w / (VOLTS * self.phases)


def profile_from(
    profile_id: int, evse_id: int, stack_level: int, schedule: dict[str, Any], purpose: str = ""
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
        purpose=purpose,
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
        """The profile in force on this EVSE: a TxProfile over a TxDefaultProfile (2.0.1 K01's
        precedence), then the highest stack level, the EVSE's own over the station-wide one."""
        relevant = [p for p in self.profiles.values() if p.evse_id in (0, evse_id)]
        if not relevant:
            return None
        return max(relevant, key=lambda p: (p.purpose == "TxProfile", p.stack_level, p.evse_id))

    def end_transaction(self, evse_id: int) -> bool:
        """A TxProfile lasts as long as its transaction."""
        ended = [
            p.id
            for p in self.profiles.values()
            if p.purpose == "TxProfile" and p.evse_id == evse_id
        ]
        for pid in ended:
            del self.profiles[pid]
        return bool(ended)

    def limit_for(self, evse_id: int) -> float | None:
        top = self.top_for(evse_id)
        return top.limit_w if top else None

    def composite_limit(self, evse_id: int, unit: str, default_w: float) -> float:
        top = self.top_for(evse_id)
        if top is not None:
            return top.limit_in(unit)
        return default_w if unit == "W" else default_w / (VOLTS * PHASES)


class SmartChargingBlock(ProtocolBase):
    def __init__(self, station: EmulatedStation) -> None:
        super().__init__(station)
        self.profiles = ProfileStore()

    @abstractmethod
    def _profile(self, evse_id: int, profile: dict[str, Any]) -> Profile:
        """The profile a (snake_case) ChargingProfile of the version sets on `evse_id`."""

    def _apply_profile(self, evse_id: int, profile: dict[str, Any]) -> None:
        self.profiles.set(self._profile(evse_id, profile))
        self._refresh_limits()

    def _refresh_limits(self) -> None:
        for connector in self.station.connectors.values():
            limit = self.profiles.limit_for(connector.evse_id)
            if limit != connector.limit_w:
                self.station.advance_meter(connector)  # the energy so far at the old limit
                connector.limit_w = limit

    def transaction_ended(self, evse_id: int) -> None:
        if self.profiles.end_transaction(evse_id):
            self._refresh_limits()

    def _known_evse(self, evse_id: int) -> bool:
        """EVSE 0 is the whole station."""
        return evse_id == 0 or evse_id in self.station.connectors

    def _set_profile(self, evse_id: int, profile: dict[str, Any]) -> dict[str, Any]:
        """SetChargingProfile's answer, the profile applied when it is Accepted."""
        if not self._known_evse(evse_id):
            return {"status": "Rejected"}
        if profile["charging_profile_purpose"] == "TxProfile":
            tx = self.station.connectors[evse_id].transaction if evse_id else None
            wanted = profile.get("transaction_id")
            if tx is None or (wanted is not None and wanted != tx.csms_id):
                return {"status": "Rejected"}
        self._apply_profile(evse_id, profile)
        return {"status": "Accepted"}

    def _clear_profiles(self, profile_id: int | None, evse_id: int | None) -> dict[str, Any]:
        cleared = self.profiles.clear(profile_id, evse_id)
        self._refresh_limits()
        return {"status": "Accepted" if cleared else "Unknown"}

    def _composite_schedule(
        self, evse_id: int, duration: int, charging_rate_unit: str | None
    ) -> dict[str, Any]:
        """GetCompositeSchedule's answer: one period, the limit in force, for the whole duration,
        in W unless asked otherwise; the version shapes the schedule (`_schedule`)."""
        if not self._known_evse(evse_id):
            return {"status": "Rejected"}
        unit = charging_rate_unit or "W"
        value = self.profiles.composite_limit(evse_id, unit, self.station.options.power_w)
        periods = [{"startPeriod": 0, "limit": round(value, 1)}]
        return {"status": "Accepted", **self._schedule(evse_id, duration, unit, periods)}

    @abstractmethod
    def _schedule(
        self, evse_id: int, duration: int, unit: str, periods: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The fields of a GetCompositeSchedule answer that carry the schedule."""
