"""1.6 LocalAuthListManagement: SendLocalList and GetLocalListVersion (the rules are the core's,
`emulator.core.authorization`)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.protocol.local_list import LocalListBlock


class LocalList16(LocalListBlock):
    @on(Action.send_local_list)
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        entries = [(e["id_tag"], e.get("id_tag_info")) for e in local_authorization_list or []]
        return self._send_local_list(list_version, update_type, entries)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> dict[str, Any]:
        return {"listVersion": self.station.local_list_version}
