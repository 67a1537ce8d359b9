"""How a command's result is judged and told: once, for the REST API, the admin, the dashboard and
`manage.py ocpp_command`.

A `Verdict` says whether the station did (or will do) what it was asked, in the operator's words,
with the level a page colours it by and the HTTP status an API answers with. The REST API answers
the station's payload itself with 200 whatever its status (the integrator judges it); every other
outcome becomes an error with the verdict's status and message.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

from stations.remote.results import CommandRefused, CommandResult, Outcome

Level = Literal["ok", "warning", "error"]

# Statuses of a CALLRESULT that mean the station does (or will do) what it was asked. Any other
# (Rejected, Occupied, UnlockFailed, NotSupported, UnknownVariable…) declines it.
ACCEPTED_STATUSES = frozenset(
    {"Accepted", "Scheduled", "Unlocked", "RebootRequired", "AcceptedCanceled"}
)
# The seed's wording for a station that is not connected, kept by every REST endpoint.
NOT_CONNECTED_API_MESSAGE = "No such Charge Point. [{station}]"


def declined_status(payload: Any, accepts: Collection[str] = ACCEPTED_STATUSES) -> str | None:
    """The status by which a station's answer declines what was asked, or None when it accepts.

    The top-level `status` where there is one, else any per-item `attributeStatus` (GetVariables,
    SetVariables); an answer with neither (GetConfiguration, GetLocalListVersion) accepts."""
    if not isinstance(payload, dict):
        return None
    status = payload.get("status")
    if isinstance(status, str):
        return None if status in accepts else status
    for value in payload.values():
        if isinstance(value, list):
            for item in value:
                item_status = item.get("attributeStatus") if isinstance(item, dict) else None
                if isinstance(item_status, str) and item_status not in accepts:
                    return item_status
    return None


def _reason(payload: dict[str, Any]) -> str:
    """` (reason: …)` from a 2.0.1 statusInfo, or nothing."""
    info = payload.get("statusInfo")
    if isinstance(info, dict) and (info.get("reasonCode") or info.get("additionalInfo")):
        reason = " — ".join(str(info[k]) for k in ("reasonCode", "additionalInfo") if info.get(k))
        return f" (reason: {reason})"
    return ""


@dataclass(frozen=True)
class Verdict:
    station_id: str
    outcome: str  # an `Outcome`, or "refused" (nothing was sent)
    accepted: bool  # the station answered and did not decline
    level: Level  # how a page shows it
    message: str  # the operator's sentence (dashboard, admin, CLI)
    http_status: int  # what the REST API answers
    station_status: str | None = None  # the station's own status, when it gave one

    @property
    def api_message(self) -> str:
        """The REST API's message: the operator's sentence, but for a station not connected the
        seed's wording, which integrators match on."""
        if self.outcome == Outcome.NOT_CONNECTED:
            return NOT_CONNECTED_API_MESSAGE.format(station=self.station_id)
        return self.message

    def as_dict(self, result: CommandResult | None = None) -> dict[str, Any]:
        """The dashboard's JSON: `ok` only when the station accepted."""
        return {
            "ok": self.accepted,
            "level": self.level,
            "outcome": self.outcome,
            "answer": result.payload if result is not None else None,
            "message": self.message,
        }


def judge(
    result: CommandResult,
    station_id: str,
    what: str,
    *,
    accepts: Collection[str] = ACCEPTED_STATUSES,
    timeout: float | None = None,
) -> Verdict:
    """The verdict on `result` of the command `what` (an action, or "ReserveNow #12") sent to
    `station_id`. `timeout`: the station's time to answer (default OCPP_CALL_TIMEOUT)."""
    if result.outcome == Outcome.ANSWERED:
        payload = result.payload if isinstance(result.payload, dict) else {}
        declined = declined_status(payload, accepts)
        status = payload.get("status") if isinstance(payload.get("status"), str) else None
        if declined is None:
            message = f"{station_id} answered {what}: {json.dumps(payload, ensure_ascii=False)}"
            return Verdict(station_id, result.outcome, True, "ok", message, 200, status)
        message = f"{station_id} did not accept {what}: {declined}{_reason(payload)}"
        return Verdict(station_id, result.outcome, False, "warning", message, 200, declined)
    if result.outcome == Outcome.NOT_CONNECTED:
        return Verdict(
            station_id, result.outcome, False, "error", f"{station_id} is not connected", 503
        )
    if result.outcome == Outcome.TIMEOUT:
        wait = timeout or settings.OCPP_CALL_TIMEOUT
        message = f"{station_id} did not answer {what} within {wait:g} s"
        return Verdict(station_id, result.outcome, False, "error", message, 504)
    if result.outcome == Outcome.CALL_ERROR:
        message = f"{station_id} refused {what}: {result.error_code} {result.description}".rstrip()
        return Verdict(station_id, result.outcome, False, "error", message, 502)
    message = f"{station_id} answered {what} with an invalid payload: {result.description}"
    return Verdict(station_id, result.outcome, False, "error", message.rstrip(": "), 502)


def refused(station_id: str, what: str, error: CommandRefused) -> Verdict:
    """The verdict on a command that was never sent."""
    status = 404 if error.code in ("unknown", "unknown_station") else 400
    return Verdict(station_id, "refused", False, "error", error.message, status)
