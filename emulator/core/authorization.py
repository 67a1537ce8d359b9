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
        """SendLocalList for both versions: entries are (token, status or None to remove). More
        entries than SendLocalListMaxLength (LocalAuthListCtrlr.ItemsPerMessage) in one message,
        or a list longer than LocalAuthListMaxLength (LocalAuthListCtrlr.Entries), Failed."""
        if update_type == "Differential" and version <= self.local_list_version:
            return "VersionMismatch"
        if len(entries) > self.device.integer("SendLocalListMaxLength"):
            return "Failed"
        updated = {} if update_type == "Full" else dict(self.local_list)
        for token, status in entries:
            if status is None:
                updated.pop(token, None)
            else:
                updated[token] = status
        if len(updated) > self.device.integer("LocalAuthListMaxLength"):
            return "Failed"
        self.local_list = updated
        self.local_list_version = version
        return "Accepted"
