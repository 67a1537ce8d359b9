"""The operator's buttons, turned into OCPP commands for the station's version.

Everything goes through the same services as the REST API (`send_command`, `reservations.services`),
so a button and a REST call are recorded and behave the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from stations.clock import utcnow


class ActionError(ValueError):
    """The form is incomplete or the action does not exist."""


def form_int(form: dict[str, Any], name: str, default: int | None = None) -> int:
    raw = form.get(name)
    if raw in (None, ""):
        if default is None:
            raise ActionError(f"{name} is required")
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ActionError(f"{name} must be a number") from None


def _text(form: dict[str, Any], name: str) -> str:
    value = str(form.get(name) or "").strip()
    if not value:
        raise ActionError(f"{name} is required")
    return value


def is_hard_reset(action: str, form: dict[str, Any]) -> bool:
    return action == "reset" and form.get("type", "hard") == "hard"


def require_confirmation(action: str, form: dict[str, Any]) -> None:
    """A hard reset interrupts charging at once: the operator must have ticked the box (the form's
    `required` checkbox, `confirm=yes`). Checked here too, so no client can skip it."""
    if is_hard_reset(action, form) and form.get("confirm") != "yes":
        raise ActionError("A hard reset interrupts charging: tick the box to confirm it")


def command_for(action: str, protocol: str, form: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(OCPP action, payload) for a dashboard button on a station of `protocol`."""
    v16 = protocol == "1.6"
    if action == "reset":
        hard = is_hard_reset(action, form)
        return "Reset", {"type": ("Hard" if hard else "Soft")} if v16 else {
            "type": "Immediate" if hard else "OnIdle"
        }
    if action == "unlock":
        evse = form_int(form, "evse_id", 1)
        return "UnlockConnector", {"connectorId": evse} if v16 else {
            "evseId": evse,
            "connectorId": 1,
        }
    if action == "remote-start":
        token, evse = _text(form, "id_token"), form_int(form, "evse_id", 1)
        if v16:
            return "RemoteStartTransaction", {"idTag": token, "connectorId": evse}
        return "RequestStartTransaction", {
            "idToken": {"idToken": token, "type": "Central"},
            "remoteStartId": int(utcnow().timestamp()) % 2_000_000_000,
            "evseId": evse,
        }
    if action == "remote-stop":
        transaction_id = _text(form, "transaction_id")
        if v16:
            return "RemoteStopTransaction", {"transactionId": form_int(form, "transaction_id")}
        return "RequestStopTransaction", {"transactionId": transaction_id}
    if action == "availability":
        operative = form.get("state", "operative") == "operative"
        evse = form_int(form, "evse_id", 0)
        if v16:
            return "ChangeAvailability", {
                "connectorId": evse,
                "type": "Operative" if operative else "Inoperative",
            }
        payload: dict[str, Any] = {"operationalStatus": "Operative" if operative else "Inoperative"}
        if evse:
            payload["evse"] = {"id": evse}
        return "ChangeAvailability", payload
    if action == "trigger":
        return "TriggerMessage", {"requestedMessage": _text(form, "message")}
    raise ActionError(f"Unknown action: {action}")


def reservation_request(form: dict[str, Any]) -> dict[str, Any]:
    minutes = form_int(form, "minutes", 15)
    if not 1 <= minutes <= 24 * 60:
        raise ActionError("minutes must be between 1 and 1440")
    evse = form.get("evse_id")
    return {
        "evse_id": form_int(form, "evse_id") if evse not in (None, "") else None,
        "id_token": _text(form, "id_token"),
        "expires_at": utcnow() + timedelta(minutes=minutes),
    }
