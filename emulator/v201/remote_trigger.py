"""2.0.1 TriggerMessage (block F), for an EVSE or for all."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.protocol.remote_trigger import RemoteTriggerBlock


class RemoteTrigger201(RemoteTriggerBlock):
    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> dict[str, Any]:
        return self._trigger(requested_message, (evse or {}).get("id"))
