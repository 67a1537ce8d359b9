"""Whether a token may charge: the CSMS decides while online, the local list while offline.

The local authorization list (SendLocalList) has the same rules in both versions (a differential
update must carry a newer version; a full one replaces the list), so it is kept here; a version
only translates its own message shapes.
"""

from __future__ import annotations

from emulator.core.rpc import RpcWiring


class Authorization(RpcWiring):
    local_list: dict[str, str]  # token -> status
    local_list_version: int

    async def authorize(self, id_token: str) -> str:
        """Ask the CSMS; offline, trust the local list or accept (as stations do offline)."""
        if not self.online.is_set():
            return self.local_list.get(id_token, "Accepted")
        answer = await self.call("Authorize", self.protocol.authorize_payload(id_token))
        if answer is None:
            return "Invalid"
        return self.protocol.authorization_status(answer)

    def update_local_list(
        self, version: int, update_type: str, entries: list[tuple[str, str | None]]
    ) -> str:
        """SendLocalList for both versions: entries are (token, status or None to remove)."""
        if update_type == "Differential" and version <= self.local_list_version:
            return "VersionMismatch"
        if update_type == "Full":
            self.local_list.clear()
        for token, status in entries:
            if status is None:
                self.local_list.pop(token, None)
            else:
                self.local_list[token] = status
        self.local_list_version = version
        return "Accepted"
