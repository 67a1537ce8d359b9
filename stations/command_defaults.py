"""Default payloads for commands sent without one, so an operator can type just the action.

The defaults are harmless probes or the common case (a soft/immediate reset, the heartbeat interval
as the variable to read or set, a remote start on EVSE 1). A stop needs a real transaction id, so it
is taken from the station's newest active transaction; without one there is no sensible default.
Sync and ORM-bound: async callers go through `stations.db.in_db_thread`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from stations.models import Transaction

REMOTE_ID_TOKEN = "CSMS-REMOTE"
VENDOR_ID = "org.example.csms"
HEARTBEAT_COMPONENT = {"name": "OCPPCommCtrlr"}
HEARTBEAT_VARIABLE = {"name": "HeartbeatInterval"}
HEARTBEAT_SECONDS = "300"

# OCPP integers are 32-bit in practice; a millisecond clock folded into that range repeats only
# every ~23 days, long enough for a station never to see a stale id reused.
_ID_RANGE = 2_000_000_000
_id_lock = threading.Lock()
_last_id = 0


class NoDefaultPayload(ValueError):
    """There is no sensible payload to invent; the caller must supply one."""


def request_id() -> int:
    """A positive id from the clock that differs on every call, even within one millisecond:
    stations match reports and remote starts to requests by it."""
    global _last_id
    with _id_lock:
        candidate = int(time.time() * 1000) % _ID_RANGE + 1
        if candidate <= _last_id < candidate + _ID_RANGE // 2:
            candidate = _last_id + 1
        _last_id = candidate
        return candidate


def _active_transaction(station_id: str, protocol: str, action: str) -> Transaction:
    rows = Transaction.objects.filter(station_id=station_id, is_active=True)
    # 1.6 rows have no station-chosen id; 2.0.1 rows always have one.
    rows = rows.filter(ocpp_id__isnull=protocol == "1.6")
    tx = rows.order_by("-started_at", "-pk").first()
    if tx is None:
        raise NoDefaultPayload(
            f"{station_id} has no active transaction: {action} needs a transaction id, "
            "pass it with --payload (e.g. '{\"transactionId\": ...}')"
        )
    return tx


def _v201(action: str, station_id: str) -> dict[str, Any] | None:
    if action == "GetBaseReport":
        return {"requestId": request_id(), "reportBase": "FullInventory"}
    if action == "GetVariables":
        return {
            "getVariableData": [{"component": HEARTBEAT_COMPONENT, "variable": HEARTBEAT_VARIABLE}]
        }
    if action == "SetVariables":
        return {
            "setVariableData": [
                {
                    "attributeValue": HEARTBEAT_SECONDS,
                    "component": HEARTBEAT_COMPONENT,
                    "variable": HEARTBEAT_VARIABLE,
                }
            ]
        }
    if action == "RequestStartTransaction":
        return {
            "idToken": {"idToken": REMOTE_ID_TOKEN, "type": "Central"},
            "remoteStartId": request_id(),
            "evseId": 1,
        }
    if action == "RequestStopTransaction":
        return {"transactionId": _active_transaction(station_id, "2.0.1", action).ocpp_id}
    fixed = {
        "ClearCache": {},
        "Reset": {"type": "Immediate"},
        "UnlockConnector": {"evseId": 1, "connectorId": 1},
        "ChangeAvailability": {"operationalStatus": "Operative"},
        "TriggerMessage": {"requestedMessage": "StatusNotification"},
        "DataTransfer": {"vendorId": VENDOR_ID},
        "GetTransactionStatus": {},
        "GetLocalListVersion": {},
    }
    return fixed.get(action)


def _v16(action: str, station_id: str) -> dict[str, Any] | None:
    if action == "RemoteStopTransaction":
        return {"transactionId": _active_transaction(station_id, "1.6", action).pk}
    fixed = {
        "ClearCache": {},
        "GetConfiguration": {},
        "ChangeConfiguration": {"key": "HeartbeatInterval", "value": HEARTBEAT_SECONDS},
        "RemoteStartTransaction": {"idTag": REMOTE_ID_TOKEN, "connectorId": 1},
        "Reset": {"type": "Soft"},
        "UnlockConnector": {"connectorId": 1},
        "ChangeAvailability": {"connectorId": 0, "type": "Operative"},
        "TriggerMessage": {"requestedMessage": "StatusNotification"},
        "DataTransfer": {"vendorId": VENDOR_ID},
        "GetLocalListVersion": {},
    }
    return fixed.get(action)


_BUILDERS = {"2.0.1": _v201, "1.6": _v16}


def default_payload(action: str, protocol: str, station_id: str) -> dict[str, Any]:
    """The payload to send when the operator gave none; NoDefaultPayload (a ValueError) when the
    action has no sensible default or needs data the CSMS does not have."""
    builder = _BUILDERS.get(protocol)
    if builder is None:
        raise NoDefaultPayload(
            f"Unknown OCPP version {protocol!r}: pass the payload with --payload"
        )
    payload = builder(action, station_id)
    if payload is None:
        raise NoDefaultPayload(
            f"{action} has no default payload in OCPP {protocol}: pass one with --payload"
        )
    return payload
