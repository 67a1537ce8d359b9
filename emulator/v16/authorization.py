"""1.6 Core, authorization: the Authorize message (ClearCache is shared)."""

from __future__ import annotations

from typing import Any

from emulator.protocol.authorization import AuthorizationBlock


class Authorization16(AuthorizationBlock):
    def authorize_payload(self, id_token: str) -> dict[str, Any]:
        return {"idTag": id_token}

    def authorization_status(self, answer: dict[str, Any]) -> str:
        return answer.get("idTagInfo", {}).get("status", "Invalid")
