"""1.6 SmartCharging: SetChargingProfile, ClearChargingProfile and GetCompositeSchedule. A 1.6
profile has one schedule, and its id in chargingProfileId."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.protocol.smart_charging import Profile, SmartChargingBlock, profile_from


class SmartCharging16(SmartChargingBlock):
    def _profile(self, evse_id: int, profile: dict[str, Any]) -> Profile:
        return profile_from(
            profile["charging_profile_id"],
            evse_id,
            profile["stack_level"],
            profile["charging_schedule"],
            profile["charging_profile_purpose"],
        )

    def _schedule(
        self, evse_id: int, duration: int, unit: str, periods: list[dict[str, Any]]
    ) -> dict[str, Any]:
        schedule = {
            "duration": duration,
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": periods,
        }
        return {
            "connectorId": evse_id,
            "scheduleStart": self.station.timestamp(),
            "chargingSchedule": schedule,
        }

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        return self._set_profile(connector_id, cs_charging_profiles)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self, id: int | None = None, connector_id: int | None = None, **_: Any
    ) -> dict[str, Any]:
        return self._clear_profiles(id, connector_id)

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: Any
    ) -> dict[str, Any]:
        return self._composite_schedule(connector_id, duration, charging_rate_unit)
