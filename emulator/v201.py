"""OCPP 2.0.1 for the emulated station: what it sends and how it answers every CSMS command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.charging import ProfileStore, profile_from
from emulator.station import Connector, Reservation, Transaction
from stations.clock import parse_ocpp_time

if TYPE_CHECKING:
    from emulator.station import EmulatedStation

# 1.6 connector vocabulary (the station's internal one) to 2.0.1 ConnectorStatus.
CONNECTOR_STATUS = {
    "Available": "Available",
    "Preparing": "Occupied",
    "Charging": "Occupied",
    "SuspendedEV": "Occupied",
    "SuspendedEVSE": "Occupied",
    "Finishing": "Occupied",
    "Reserved": "Reserved",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
}
STOP_TRIGGER = {
    "Remote": "RemoteStop",
    "EVDisconnected": "EVCommunicationLost",
    "DeAuthorized": "Deauthorized",
    "ImmediateReset": "ResetCommand",
    "Local": "StopAuthorized",
}
TRIGGERABLE = {
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "MeterValues",
    "TransactionEvent",
    "FirmwareStatusNotification",
    "LogStatusNotification",
}


class Protocol201:
    version = "2.0.1"

    def __init__(self, station: EmulatedStation):
        self.station = station
        self.profiles = ProfileStore()
        self.firmware_status = "Idle"

    # --- messages the station sends ------------------------------------------------------------------

    def boot_payload(self, reason: str = "PowerUp") -> dict[str, Any]:
        options = self.station.options
        return {
            "chargingStation": {
                "model": options.model,
                "vendorName": options.vendor,
                "serialNumber": self.station.device.settings["ChargingStation.SerialNumber"].value,
                "firmwareVersion": options.firmware_version,
            },
            "reason": reason,
        }

    def status_payload(self, connector: Connector) -> dict[str, Any]:
        return {
            "timestamp": self.station.timestamp(),
            "connectorStatus": CONNECTOR_STATUS[connector.status],
            "evseId": connector.evse_id,
            "connectorId": 1,
        }

    def authorize_payload(self, id_token: str) -> dict[str, Any]:
        return {"idToken": {"idToken": id_token, "type": "ISO14443"}}

    @staticmethod
    def authorization_status(answer: dict[str, Any]) -> str:
        return answer.get("idTokenInfo", {}).get("status", "Invalid")

    def _register(self, value_wh: float, context: str) -> dict[str, Any]:
        return {
            "timestamp": self.station.timestamp(),
            "sampledValue": [
                {
                    "value": round(value_wh, 1),
                    "context": context,
                    "measurand": "Energy.Active.Import.Register",
                    "unitOfMeasure": {"unit": "Wh"},
                }
            ],
        }

    def _event(self, tx: Transaction, event_type: str, trigger: str, **extra: Any) -> dict:
        payload = {
            "eventType": event_type,
            "timestamp": self.station.timestamp(),
            "triggerReason": trigger,
            "seqNo": tx.next_seq_no(),
            "transactionInfo": {"transactionId": tx.local_id, **extra.pop("info", {})},
            **extra,
        }
        if not self.station.online.is_set():
            payload["offline"] = True
        return payload

    def _send_event(self, payload: dict[str, Any], tx: Transaction | None = None) -> None:
        # Everything is known when it happens; the payload is frozen now (time, seqNo, offline).
        self.station.enqueue(
            "TransactionEvent", lambda: payload, self._check_token(tx) if tx else None
        )

    def _check_token(self, tx: Transaction):
        def check(answer: dict[str, Any]) -> Any:
            status = answer.get("idTokenInfo", {}).get("status", "Accepted")
            if status != "Accepted" and not tx.deauthorized:
                tx.deauthorized = True  # StopTxOnInvalidId
                return self.station.stop_transaction(tx.evse_id, "DeAuthorized")
            return None

        return check

    @staticmethod
    def is_meter_message(item: Any) -> bool:
        return item.action == "TransactionEvent" and item.build()["eventType"] == "Updated"

    def enqueue_start(self, tx: Transaction) -> None:
        tx.csms_id = tx.local_id
        info: dict[str, Any] = {"chargingState": "Charging"}
        if tx.remote_start_id is not None:
            info["remoteStartId"] = tx.remote_start_id
        extra: dict[str, Any] = {
            "info": info,
            "evse": {"id": tx.evse_id, "connectorId": 1},
            "idToken": {"idToken": tx.id_token, "type": "ISO14443"},
            "meterValue": [self._register(tx.meter_start_wh, "Transaction.Begin")],
        }
        if tx.reservation_id is not None:
            extra["reservationId"] = tx.reservation_id
        trigger = "RemoteStart" if tx.remote_start_id is not None else "Authorized"
        self._send_event(self._event(tx, "Started", trigger, **extra), tx)

    def enqueue_meter_values(self, tx: Transaction, connector: Connector) -> None:
        sample = self._register(connector.meter_wh, "Sample.Periodic")
        sample["sampledValue"].append(
            {
                "value": round(self.station.power_w(connector), 1),
                "context": "Sample.Periodic",
                "measurand": "Power.Active.Import",
                "unitOfMeasure": {"unit": "W"},
            }
        )
        info = {"chargingState": "Charging"}
        self._send_event(
            self._event(tx, "Updated", "MeterValuePeriodic", info=info, meterValue=[sample])
        )

    def enqueue_stop(self, tx: Transaction, meter_wh: float, reason: str) -> None:
        info = {"chargingState": "Idle", "stoppedReason": reason}
        self._send_event(
            self._event(
                tx,
                "Ended",
                STOP_TRIGGER.get(reason, "StopAuthorized"),
                info=info,
                meterValue=[self._register(meter_wh, "Transaction.End")],
            )
        )

    async def reservation_ended(self, reservation: Reservation, status: str) -> None:
        await self.station.call(
            "ReservationStatusUpdate",
            {"reservationId": reservation.id, "reservationUpdateStatus": status},
        )

    # --- commands from the CSMS -------------------------------------------------------------------

    def _connector(self, evse_id: int | None, id_token: str = "") -> Connector | None:
        """The named EVSE, or the first one free for this token (reservations respected)."""
        if evse_id is None:
            now = self.station.now()
            candidates = self.station.connectors.values()
            return next((c for c in candidates if c.available_for(id_token, now)), None)
        return self.station.connectors.get(evse_id)

    @on(Action.reserve_now)
    def on_reserve_now(
        self, id: int, expiry_date_time: str, id_token: dict, evse_id: int | None = None, **_: Any
    ) -> dict[str, Any]:
        reservation = Reservation(id, id_token["id_token"], parse_ocpp_time(expiry_date_time))
        return {"status": self.station.reserve(self._connector(evse_id), reservation)}

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> dict[str, Any]:
        cancelled = self.station.cancel_reservation(reservation_id)
        return {"status": "Accepted" if cancelled else "Rejected"}

    @on(Action.request_start_transaction)
    def on_request_start_transaction(
        self, id_token: dict, remote_start_id: int, evse_id: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        token = id_token["id_token"]
        connector = self._connector(evse_id, token)
        if connector is None or not connector.available_for(token, self.station.now()):
            return {"status": "Rejected"}
        if kwargs.get("charging_profile"):
            self._apply_profile(connector.evse_id, kwargs["charging_profile"])
        self.station.spawn(
            self.station.start_transaction(
                connector.evse_id,
                id_token["id_token"],
                authorize=self.station.device.flag("AuthorizeRemoteTxRequests"),
                remote_start_id=remote_start_id,
            )
        )
        return {"status": "Accepted"}

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id: str, **_: Any) -> dict[str, Any]:
        tx = self.station.find_transaction(transaction_id)
        if tx is None:
            return {"status": "Rejected"}
        self.station.spawn(self.station.stop_transaction(tx.evse_id, "Remote"))
        return {"status": "Accepted"}

    @on(Action.get_transaction_status)
    def on_get_transaction_status(self, transaction_id: str | None = None, **_: Any) -> dict:
        queued = self.station.outbox
        if transaction_id is None:
            return {"messagesInQueue": bool(queued)}
        pending = any(
            item.action == "TransactionEvent"
            and (item.payload or item.build())["transactionInfo"]["transactionId"] == transaction_id
            for item in queued
        )
        return {
            "messagesInQueue": pending,
            "ongoingIndicator": self.station.find_transaction(transaction_id) is not None,
        }

    @on(Action.reset)
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> dict[str, Any]:
        busy = any(c.transaction for c in self.station.connectors.values())
        if type == "OnIdle" and busy:
            self.station.pending_reset = type
            return {"status": "Scheduled"}
        self.station.spawn(self.reboot())
        return {"status": "Accepted"}

    async def reboot(self) -> None:
        self.station.boot_reason = "RemoteReset"
        for connector in self.station.connectors.values():
            if connector.transaction is not None:
                await self.station.stop_transaction(connector.evse_id, "ImmediateReset")
        self.station.close_connection(reconnect_now=True)

    @on(Action.change_availability)
    def on_change_availability(
        self, operational_status: str, evse: dict | None = None, **_: Any
    ) -> dict[str, Any]:
        operative = operational_status == "Operative"
        targets = (
            [self.station.connectors[evse["id"]]]
            if evse and evse.get("id") in self.station.connectors
            else list(self.station.connectors.values())
        )
        if evse and evse.get("id") not in self.station.connectors and evse.get("id") != 0:
            return {"status": "Rejected"}
        scheduled = False
        for connector in targets:
            connector.operative = operative
            if connector.transaction is not None:
                scheduled = True
            else:
                self.station.spawn(self.station.refresh_status(connector))
        return {"status": "Scheduled" if scheduled else "Accepted"}

    @on(Action.unlock_connector)
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any) -> dict[str, Any]:
        connector = self.station.connectors.get(evse_id)
        if connector is None or connector_id != 1:
            return {"status": "UnknownConnector"}
        if connector.transaction is not None:
            return {"status": "OngoingAuthorizedTransaction"}
        return {"status": "Unlocked"}

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> dict[str, Any]:
        return {"status": "Accepted"}

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> dict[str, Any]:
        if vendor_id == "org.example.emulator":  # an echo service, to test vendor extensions
            return {"status": "Accepted", "data": kwargs.get("data")}
        return {"status": "UnknownVendorId"}

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, evse: dict | None = None, **_: Any
    ) -> dict[str, Any]:
        if requested_message not in TRIGGERABLE:
            return {"status": "NotImplemented"}
        self.station.spawn(self._triggered(requested_message, (evse or {}).get("id")))
        return {"status": "Accepted"}

    async def _triggered(self, message: str, evse_id: int | None) -> None:
        station = self.station
        connectors = (
            [station.connectors[evse_id]]
            if evse_id in station.connectors
            else list(station.connectors.values())
        )
        if message == "BootNotification":
            await station.rpc.call("BootNotification", self.boot_payload("Triggered"))
        elif message == "Heartbeat":
            await station.call("Heartbeat", {})
        elif message == "StatusNotification":
            for connector in connectors:
                await station.call("StatusNotification", self.status_payload(connector))
        elif message == "MeterValues":
            for connector in connectors:
                station.advance_meter(connector)
                sample = self._register(connector.meter_wh, "Trigger")
                await station.call(
                    "MeterValues", {"evseId": connector.evse_id, "meterValue": [sample]}
                )
        elif message == "TransactionEvent":
            for connector in connectors:
                if connector.transaction is not None:
                    tx = connector.transaction
                    self._send_event(
                        self._event(
                            tx,
                            "Updated",
                            "Trigger",
                            meterValue=[self._register(connector.meter_wh, "Trigger")],
                        )
                    )
        elif message == "FirmwareStatusNotification":
            await station.call("FirmwareStatusNotification", {"status": self.firmware_status})
        elif message == "LogStatusNotification":
            await station.call("LogStatusNotification", {"status": "Idle"})

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict], **_: Any) -> dict[str, Any]:
        results = []
        for item in get_variable_data:
            component, variable = item["component"]["name"], item["variable"]["name"]
            status, value = self.station.device.get_variable(component, variable)
            result = {
                "attributeStatus": status,
                "component": {"name": component},
                "variable": {"name": variable},
            }
            if value is not None:
                result["attributeValue"] = value
            results.append(result)
        return {"getVariableResult": results}

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict], **_: Any) -> dict[str, Any]:
        results = []
        for item in set_variable_data:
            component, variable = item["component"]["name"], item["variable"]["name"]
            status = self.station.device.set_variable(
                component, variable, str(item["attribute_value"])
            )
            results.append(
                {
                    "attributeStatus": status,
                    "component": {"name": component},
                    "variable": {"name": variable},
                }
            )
        return {"setVariableResult": results}

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> dict[str, Any]:
        self.station.spawn(self._notify_report(request_id, self.station.device.report()))
        return {"status": "Accepted"}

    @on(Action.get_report)
    def on_get_report(
        self, request_id: int, component_variable: list[dict] | None = None, **_: Any
    ) -> dict[str, Any]:
        data = self.station.device.report()
        if component_variable:
            data = [entry for entry in data if _requested(entry, component_variable)]
        if not data:
            return {"status": "EmptyResultSet"}
        self.station.spawn(self._notify_report(request_id, data))
        return {"status": "Accepted"}

    async def _notify_report(self, request_id: int, data: list[dict], chunk: int = 20) -> None:
        parts = [data[i : i + chunk] for i in range(0, len(data), chunk)] or [[]]
        for seq_no, part in enumerate(parts):
            payload: dict[str, Any] = {
                "requestId": request_id,
                "generatedAt": self.station.timestamp(),
                "seqNo": seq_no,
                "tbc": seq_no < len(parts) - 1,
            }
            if part:
                payload["reportData"] = part
            await self.station.call("NotifyReport", payload)

    def _apply_profile(self, evse_id: int, profile: dict[str, Any]) -> None:
        schedule = profile["charging_schedule"][0]
        self.profiles.set(profile_from(profile["id"], evse_id, profile["stack_level"], schedule))
        self._refresh_limits()

    def _refresh_limits(self) -> None:
        for connector in self.station.connectors.values():
            connector.limit_w = self.profiles.limit_for(connector.evse_id)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict, **_: Any) -> dict:
        if evse_id != 0 and evse_id not in self.station.connectors:
            return {"status": "Rejected"}
        if charging_profile["charging_profile_purpose"] == "TxProfile":
            # K01.FR.09 / .FR.16: a TxProfile needs its transaction running on that EVSE.
            tx = self.station.connectors[evse_id].transaction if evse_id else None
            wanted = charging_profile.get("transaction_id")
            if tx is None or (wanted is not None and wanted != tx.csms_id):
                return {"status": "Rejected"}
        self._apply_profile(evse_id, charging_profile)
        return {"status": "Accepted"}

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        evse_id = (charging_profile_criteria or {}).get("evse_id")
        cleared = self.profiles.clear(charging_profile_id, evse_id)
        self._refresh_limits()
        return {"status": "Accepted" if cleared else "Unknown"}

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any
    ) -> dict[str, Any]:
        if evse_id != 0 and evse_id not in self.station.connectors:
            return {"status": "Rejected"}
        unit = charging_rate_unit or "W"
        value = self.profiles.composite_limit(evse_id, unit, self.station.options.power_w)
        return {
            "status": "Accepted",
            "schedule": {
                "evseId": evse_id,
                "duration": duration,
                "scheduleStart": self.station.timestamp(),
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": round(value, 1)}],
            },
        }

    @on(Action.send_local_list)
    def on_send_local_list(
        self,
        version_number: int,
        update_type: str,
        local_authorization_list: list[dict] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        entries = [
            (entry["id_token"]["id_token"], (entry.get("id_token_info") or {}).get("status"))
            for entry in local_authorization_list or []
        ]
        return {"status": self.station.update_local_list(version_number, update_type, entries)}

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> dict[str, Any]:
        return {"versionNumber": self.station.local_list_version}

    @on(Action.get_log)
    def on_get_log(self, log_type: str, request_id: int, log: dict, **_: Any) -> dict[str, Any]:
        self.station.spawn(self._upload_log(request_id))
        return {"status": "Accepted", "filename": f"{self.station.identity}-{log_type}.log"}

    async def _upload_log(self, request_id: int) -> None:
        for status in ("Uploading", "Uploaded"):
            await self.station.call(
                "LogStatusNotification", {"status": status, "requestId": request_id}
            )

    @on(Action.update_firmware)
    def on_update_firmware(self, request_id: int, firmware: dict, **_: Any) -> dict[str, Any]:
        self.station.spawn(self._install_firmware(request_id))
        return {"status": "Accepted"}

    async def _install_firmware(self, request_id: int) -> None:
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            self.firmware_status = status
            await self.station.call(
                "FirmwareStatusNotification", {"status": status, "requestId": request_id}
            )


def _requested(entry: dict[str, Any], component_variable: list[dict]) -> bool:
    """Whether a report entry is one of the component (and, if named, variable) asked for."""
    for asked in component_variable:
        if asked["component"]["name"] != entry["component"]["name"]:
            continue
        variable = asked.get("variable")
        if variable is None or variable["name"] == entry["variable"]["name"]:
            return True
    return False
