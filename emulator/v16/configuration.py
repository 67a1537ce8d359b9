"""1.6 Core, configuration keys: GetConfiguration and ChangeConfiguration over the station's
settings (`emulator.core.device`), which 2.0.1 reads as its device model. More keys than its
GetConfigurationMaxKeys in one request are refused (OccurrenceConstraintViolation)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.protocol.base import ProtocolBase
from ocppj.errors import ErrorCode, OcppError


class Configuration16(ProtocolBase):
    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> dict[str, Any]:
        most = self.station.device.integer("GetConfigurationMaxKeys")
        if key and len(key) > most:
            raise OcppError(
                ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
                f"{len(key)} keys: this station takes at most {most} (GetConfigurationMaxKeys)",
            )
        known, unknown = self.station.device.get_configuration(key)
        answer: dict[str, Any] = {"configurationKey": known}
        if unknown:
            answer["unknownKey"] = unknown
        return answer

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any) -> dict[str, Any]:
        return {"status": self.station.device.change_configuration(key, value)}
