"""2.0.1 block K, smart charging: SetChargingProfile, ClearChargingProfile, GetCompositeSchedule
and GetChargingProfiles (answered with ReportChargingProfiles, one message per EVSE). A 2.0.1
profile has a list of schedules (the first counts here) and its id in id."""

from __future__ import annotations

from typing import Any

from ocpp.charge_point import snake_to_camel_case
from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.protocol.smart_charging import Profile, SmartChargingBlock, profile_from


class SmartCharging201(SmartChargingBlock):
    def __init__(self, station: Any) -> None:
        super().__init__(station)
        self.installed_profiles: dict[int, tuple[int, dict[str, Any]]] = {}  # id -> (EVSE, as sent)

    def _profile(self, evse_id: int, profile: dict[str, Any]) -> Profile:
        schedule = profile["charging_schedule"][0]
        self.installed_profiles[int(profile["id"])] = (evse_id, snake_to_camel_case(profile))
        return profile_from(
            profile["id"],
            evse_id,
            profile["stack_level"],
            schedule,
            profile["charging_profile_purpose"],
        )

    @on(Action.get_charging_profiles)
    def on_get_charging_profiles(
        self,
        request_id: int,
        charging_profile: dict[str, Any],
        evse_id: int | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        ids = set(charging_profile.get("charging_profile_id") or ())
        purpose = charging_profile.get("charging_profile_purpose")
        live = {p.id for p in self.profiles.profiles.values()}
        chosen = [
            (evse, wire)
            for pid, (evse, wire) in sorted(self.installed_profiles.items())
            if pid in live
            and (evse_id is None or evse == evse_id)
            and (not ids or pid in ids)
            and (not purpose or wire["chargingProfilePurpose"] == purpose)
        ]
        if not chosen:
            return {"status": "NoProfiles"}
        self.station.spawn(self._report_profiles(request_id, chosen))
        return {"status": "Accepted"}

    async def _report_profiles(
        self, request_id: int, chosen: list[tuple[int, dict[str, Any]]]
    ) -> None:
        by_evse: dict[int, list[dict[str, Any]]] = {}
        for evse, wire in chosen:
            by_evse.setdefault(evse, []).append(wire)
        evses = sorted(by_evse)
        for index, evse in enumerate(evses):
            await self.station.call(
                "ReportChargingProfiles",
                {
                    "requestId": request_id,
                    "chargingLimitSource": "CSO",
                    "evseId": evse,
                    "chargingProfile": by_evse[evse],
                    "tbc": index < len(evses) - 1,
                },
            )

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
