"""2.0.1 block O, display messages: SetDisplayMessage, GetDisplayMessages (answered with
NotifyDisplayMessages), ClearDisplayMessage, over a screen of DisplayMessageCtrlr.DisplayMessages
slots that shows the formats and priorities it reports (SupportedFormats, SupportedPriorities)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.protocol.base import ProtocolBase

PARTS_OF = 4  # messages a NotifyDisplayMessages carries


class Display201(ProtocolBase):
    def __init__(self, station: Any) -> None:
        super().__init__(station)
        self.messages: dict[int, dict[str, Any]] = {}  # id -> MessageInfoType, camelCase

    def _supported(self, name: str) -> list[str]:
        return self.station.device.settings[f"DisplayMessageCtrlr.{name}"].value.split(",")

    @on(Action.set_display_message)
    def on_set_display_message(self, message: dict[str, Any], **_: Any) -> dict[str, Any]:
        content = message["message"]
        if content["format"] not in self._supported("SupportedFormats"):
            return {"status": "NotSupportedMessageFormat"}
        if message["priority"] not in self._supported("SupportedPriorities"):
            return {"status": "NotSupportedPriority"}
        if message.get("state") == "Unavailable":
            return {"status": "NotSupportedState"}
        transaction = message.get("transaction_id")
        if transaction and not any(
            c.transaction and str(c.transaction.csms_id) == transaction
            for c in self.station.connectors.values()
        ):
            return {"status": "UnknownTransaction"}
        slots = self.station.device.limits.display_slots
        if message["id"] not in self.messages and len(self.messages) >= slots:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "NoFreeSlot"}}
        info: dict[str, Any] = {
            "id": message["id"],
            "priority": message["priority"],
            "message": {k: v for k, v in content.items()},
        }
        for snake, camel in (
            ("state", "state"),
            ("start_date_time", "startDateTime"),
            ("end_date_time", "endDateTime"),
            ("transaction_id", "transactionId"),
        ):
            if message.get(snake):
                info[camel] = message[snake]
        self.messages[message["id"]] = info  # the same id replaces (O06)
        return {"status": "Accepted"}

    @on(Action.get_display_messages)
    def on_get_display_messages(self, request_id: int, **fields: Any) -> dict[str, Any]:
        ids = fields.get("id") or []
        shown = [
            m
            for m in self.messages.values()
            if (not ids or m["id"] in ids)
            and (not fields.get("priority") or m["priority"] == fields["priority"])
            and (not fields.get("state") or m.get("state") == fields["state"])
        ]
        if not shown:
            return {"status": "Unknown"}
        self.station.spawn(self._notify(request_id, shown))
        return {"status": "Accepted"}

    async def _notify(self, request_id: int, shown: list[dict[str, Any]]) -> None:
        parts = [shown[i : i + PARTS_OF] for i in range(0, len(shown), PARTS_OF)]
        for index, part in enumerate(parts):
            await self.station.call(
                "NotifyDisplayMessages",
                {"requestId": request_id, "tbc": index < len(parts) - 1, "messageInfo": part},
            )

    @on(Action.clear_display_message)
    def on_clear_display_message(self, id: int, **_: Any) -> dict[str, Any]:
        return {"status": "Accepted" if self.messages.pop(id, None) else "Unknown"}
