"""2.0.1 block D, local authorization list: SendLocalList and GetLocalListVersion (the rules are
the core's, `emulator.core.authorization`)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.protocol.local_list import LocalListBlock


class LocalList201(LocalListBlock):
    @on(Action.send_local_list)
    def on_send_local_list(
        self,
        version_number: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        entries = [
            (e["id_token"]["id_token"], e.get("id_token_info"))
            for e in local_authorization_list or []
        ]
        return self._send_local_list(version_number, update_type, entries)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> dict[str, Any]:
        return {"versionNumber": self.station.local_list_version}
