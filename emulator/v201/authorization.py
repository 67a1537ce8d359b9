"""2.0.1 block C, authorization: the Authorize message (ClearCache is shared). The emulator's
tokens are all ISO14443 (RFID cards)."""

from __future__ import annotations

from typing import Any

from emulator.protocol.authorization import AuthorizationBlock


class Authorization201(AuthorizationBlock):
    def authorize_payload(self, id_token: str) -> dict[str, Any]:
        return {"idToken": {"idToken": id_token, "type": "ISO14443"}}

    def authorization_status(self, answer: dict[str, Any]) -> str:
        info = answer.get("idTokenInfo", {})
        message = info.get("personalMessage")
        if message:
            # I01: what the CSMS tells this driver (the tariff here), on the station's screen.
            self.station.screen.append(str(message.get("content", "")))
        return info.get("status", "Invalid")
