"""2.0.1 block K, smart charging: SetChargingProfile, ClearChargingProfile and
GetCompositeSchedule. A 2.0.1 profile has a list of schedules (the first counts here) and its id in
id."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.protocol.smart_charging import Profile, SmartChargingBlock, profile_from


class SmartCharging201(SmartChargingBlock):
    def _profile(self, evse_id: int, profile: dict[str, Any]) -> Profile:
        schedule = profile["charging_schedule"][0]
        return profile_from(profile["id"], evse_id, profile["stack_level"], schedule)

    def _schedule(
        self, evse_id: int, duration: int, unit: str, periods: list[dict[str, Any]]
    ) -> dict[str, Any]:
        start = self.station.timestamp()
        return {
            "schedule": {
                "evseId": evse_id,
                "duration": duration,
                "scheduleStart": start,
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": periods,
            }
        }

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        return self._set_profile(evse_id, charging_profile)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        evse_id = (charging_profile_criteria or {}).get("evse_id")
        return self._clear_profiles(charging_profile_id, evse_id)

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any
    ) -> dict[str, Any]:
        return self._composite_schedule(evse_id, duration, charging_rate_unit)
