"""1.6 RemoteTrigger: TriggerMessage, for a connector or for all; and the security whitepaper's
ExtendedTriggerMessage, which may also ask for SignChargePointCertificate, LogStatusNotification
and FirmwareStatusNotification (each block adds what it sends to `triggers`)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.protocol.remote_trigger import RemoteTriggerBlock


class RemoteTrigger16(RemoteTriggerBlock):
    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> dict[str, Any]:
        return self._trigger(requested_message, connector_id)

    @on(Action.extended_trigger_message)
    def on_extended_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> dict[str, Any]:
        return self._trigger(requested_message, connector_id)
