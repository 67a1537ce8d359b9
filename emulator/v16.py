"""OCPP 1.6J for the emulated station: what it sends and how it answers every CSMS command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.charging import ProfileStore, profile_from
from emulator.station import Connector, Reservation, Transaction
from stations.clock import parse_ocpp_time

if TYPE_CHECKING:
    from emulator.station import EmulatedStation

STOP_REASON = {"ImmediateReset": "HardReset", "EVDisconnected": "EVDisconnected"}
TRIGGERABLE = {
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
}


class Protocol16:
    version = "1.6"

    def __init__(self, station: EmulatedStation):
        self.station = station
        self.profiles = ProfileStore()
        self.firmware_status = "Idle"

    # --- messages the station sends ------------------------------------------------------------------

    def boot_payload(self, reason: str = "PowerUp") -> dict[str, Any]:
        options = self.station.options
        return {
            "chargePointVendor": options.vendor,
            "chargePointModel": options.model,
            "chargePointSerialNumber": self.station.device.settings[
                "ChargingStation.SerialNumber"
            ].value,
            "firmwareVersion": options.firmware_version,
        }

    def status_payload(self, connector: Connector) -> dict[str, Any]:
        return {
            "connectorId": connector.evse_id,
            "errorCode": "OtherError" if connector.faulted else "NoError",
            "status": connector.status,
            "timestamp": self.station.timestamp(),
        }

    def authorize_payload(self, id_token: str) -> dict[str, Any]:
        return {"idTag": id_token}

    @staticmethod
    def authorization_status(answer: dict[str, Any]) -> str:
        return answer.get("idTagInfo", {}).get("status", "Invalid")

    def _sample(self, connector_wh: float, context: str, power_w: float | None = None) -> dict:
        sampled = [
            {
                "value": f"{connector_wh:.1f}",
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            }
        ]
        if power_w is not None:
            sampled.append(
                {
                    "value": f"{power_w:.1f}",
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "unit": "W",
                }
            )
        return {"timestamp": self.station.timestamp(), "sampledValue": sampled}

    @staticmethod
    def is_meter_message(item: Any) -> bool:
        return item.action == "MeterValues"

    def enqueue_start(self, tx: Transaction) -> None:
        payload: dict[str, Any] = {
            "connectorId": tx.evse_id,
            "idTag": tx.id_token,
            "meterStart": int(tx.meter_start_wh),
            "timestamp": self.station.timestamp(),
        }
        if tx.reservation_id is not None:
            payload["reservationId"] = tx.reservation_id

        def started(answer: dict[str, Any]) -> Any:
            tx.csms_id = answer["transactionId"]
            if answer["idTagInfo"]["status"] != "Accepted" and not tx.deauthorized:
                tx.deauthorized = True  # StopTransactionOnInvalidId
                return self.station.stop_transaction(tx.evse_id, "DeAuthorized")
            return None

        self.station.enqueue("StartTransaction", lambda: payload, started)

    def enqueue_meter_values(self, tx: Transaction, connector: Connector) -> None:
        # Measured now; the transactionId is filled in when it is sent, after the
        # StartTransaction ahead of it in the outbox has been answered.
        sample = self._sample(
            connector.meter_wh, "Sample.Periodic", self.station.power_w(connector)
        )
        self.station.enqueue(
            "MeterValues",
            lambda: {
                "connectorId": tx.evse_id,
                "transactionId": tx.csms_id,
                "meterValue": [sample],
            },
        )

    def enqueue_stop(self, tx: Transaction, meter_wh: float, reason: str) -> None:
        timestamp = self.station.timestamp()
        data = [self._sample(meter_wh, "Transaction.End")]
        self.station.enqueue(
            "StopTransaction",
            lambda: {
                "transactionId": tx.csms_id,
                "idTag": tx.id_token,
                "meterStop": int(meter_wh),
                "timestamp": timestamp,
                "reason": STOP_REASON.get(reason, reason if reason in _REASONS else "Other"),
                "transactionData": data,
            },
        )

    async def reservation_ended(self, reservation: Reservation, status: str) -> None:
        """1.6 has no message for it: the connector simply becomes Available again."""

    # --- commands from the Central System ---------------------------------------------------------

    @on(Action.reserve_now)
    def on_reserve_now(
        self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **_: Any
    ) -> dict[str, Any]:
        station = self.station
        if connector_id == 0:
            connector = next((c for c in station.connectors.values() if c.free), None)
        else:
            connector = station.connectors.get(connector_id)
        reservation = Reservation(reservation_id, id_tag, parse_ocpp_time(expiry_date))
        return {"status": station.reserve(connector, reservation)}

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> dict[str, Any]:
        cancelled = self.station.cancel_reservation(reservation_id)
        return {"status": "Accepted" if cancelled else "Rejected"}

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        station = self.station
        now = station.now()
        if connector_id is None:
            candidates = station.connectors.values()
            connector = next((c for c in candidates if c.available_for(id_tag, now)), None)
        else:
            connector = station.connectors.get(connector_id)
        if connector is None or not connector.available_for(id_tag, now):
            return {"status": "Rejected"}
        if kwargs.get("charging_profile"):
            self._apply_profile(connector.evse_id, kwargs["charging_profile"])
        station.spawn(
            station.start_transaction(
                connector.evse_id,
                id_tag,
                authorize=station.device.flag("AuthorizeRemoteTxRequests"),
            )
        )
        return {"status": "Accepted"}

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, **_: Any) -> dict[str, Any]:
        tx = self.station.find_transaction(transaction_id)
        if tx is None:
            return {"status": "Rejected"}
        self.station.spawn(self.station.stop_transaction(tx.evse_id, "Remote"))
        return {"status": "Accepted"}

    @on(Action.reset)
    def on_reset(self, type: str, **_: Any) -> dict[str, Any]:
        self.reset_type = type
        self.station.spawn(self.reboot())
        return {"status": "Accepted"}

    async def reboot(self) -> None:
        self.station.boot_reason = "RemoteReset"
        reason = "HardReset" if getattr(self, "reset_type", "Hard") == "Hard" else "SoftReset"
        for connector in self.station.connectors.values():
            if connector.transaction is not None:
                await self.station.stop_transaction(connector.evse_id, reason)
        self.station.close_connection(reconnect_now=True)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **_: Any) -> dict[str, Any]:
        station = self.station
        if connector_id != 0 and connector_id not in station.connectors:
            return {"status": "Rejected"}
        targets = (
            list(station.connectors.values())
            if connector_id == 0
            else [station.connectors[connector_id]]
        )
        scheduled = False
        for connector in targets:
            connector.operative = type == "Operative"
            if connector.transaction is not None:
                scheduled = True
            else:
                station.spawn(station.refresh_status(connector))
        return {"status": "Scheduled" if scheduled else "Accepted"}

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, **_: Any) -> dict[str, Any]:
        connector = self.station.connectors.get(connector_id)
        if connector is None:
            return {"status": "NotSupported"}
        if connector.transaction is not None:
            self.station.spawn(self.station.stop_transaction(connector_id, "UnlockCommand"))
        return {"status": "Unlocked"}

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> dict[str, Any]:
        return {"status": "Accepted"}

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> dict[str, Any]:
        if vendor_id == "org.example.emulator":
            return {"status": "Accepted", "data": kwargs.get("data")}
        return {"status": "UnknownVendorId"}

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> dict[str, Any]:
        known, unknown = self.station.device.get_configuration(key)
        answer: dict[str, Any] = {"configurationKey": known}
        if unknown:
            answer["unknownKey"] = unknown
        return answer

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any) -> dict[str, Any]:
        return {"status": self.station.device.change_configuration(key, value)}

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> dict[str, Any]:
        if requested_message not in TRIGGERABLE:
            return {"status": "NotImplemented"}
        self.station.spawn(self._triggered(requested_message, connector_id))
        return {"status": "Accepted"}

    async def _triggered(self, message: str, connector_id: int | None) -> None:
        station = self.station
        connectors = (
            [station.connectors[connector_id]]
            if connector_id in station.connectors
            else list(station.connectors.values())
        )
        if message == "BootNotification":
            await station.rpc.call("BootNotification", self.boot_payload())
        elif message == "Heartbeat":
            await station.call("Heartbeat", {})
        elif message == "StatusNotification":
            for connector in connectors:
                await station.call("StatusNotification", self.status_payload(connector))
        elif message == "MeterValues":
            for connector in connectors:
                station.advance_meter(connector)
                payload: dict[str, Any] = {
                    "connectorId": connector.evse_id,
                    "meterValue": [self._sample(connector.meter_wh, "Trigger")],
                }
                if connector.transaction is not None and connector.transaction.csms_id:
                    payload["transactionId"] = connector.transaction.csms_id
                await station.call("MeterValues", payload)
        elif message == "FirmwareStatusNotification":
            await station.call("FirmwareStatusNotification", {"status": self.firmware_status})
        elif message == "DiagnosticsStatusNotification":
            await station.call("DiagnosticsStatusNotification", {"status": "Idle"})

    def _apply_profile(self, connector_id: int, profile: dict[str, Any]) -> None:
        schedule = profile["charging_schedule"]
        self.profiles.set(
            profile_from(
                profile["charging_profile_id"], connector_id, profile["stack_level"], schedule
            )
        )
        for connector in self.station.connectors.values():
            connector.limit_w = self.profiles.limit_for(connector.evse_id)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict, **_: Any
    ) -> dict[str, Any]:
        if connector_id != 0 and connector_id not in self.station.connectors:
            return {"status": "Rejected"}
        if cs_charging_profiles["charging_profile_purpose"] == "TxProfile":
            # 1.6 §3.13.2/5.16: a TxProfile applies to a transaction running on the connector.
            tx = self.station.connectors[connector_id].transaction if connector_id else None
            wanted = cs_charging_profiles.get("transaction_id")
            if tx is None or (wanted is not None and wanted != tx.csms_id):
                return {"status": "Rejected"}
        self._apply_profile(connector_id, cs_charging_profiles)
        return {"status": "Accepted"}

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self, id: int | None = None, connector_id: int | None = None, **_: Any
    ) -> dict[str, Any]:
        cleared = self.profiles.clear(id, connector_id)
        for connector in self.station.connectors.values():
            connector.limit_w = self.profiles.limit_for(connector.evse_id)
        return {"status": "Accepted" if cleared else "Unknown"}

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: Any
    ) -> dict[str, Any]:
        if connector_id != 0 and connector_id not in self.station.connectors:
            return {"status": "Rejected"}
        unit = charging_rate_unit or "W"
        value = self.profiles.composite_limit(connector_id, unit, self.station.options.power_w)
        return {
            "status": "Accepted",
            "connectorId": connector_id,
            "scheduleStart": self.station.timestamp(),
            "chargingSchedule": {
                "duration": duration,
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": round(value, 1)}],
            },
        }

    @on(Action.send_local_list)
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        entries = [
            (entry["id_tag"], (entry.get("id_tag_info") or {}).get("status"))
            for entry in local_authorization_list or []
        ]
        return {"status": self.station.update_local_list(list_version, update_type, entries)}

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> dict[str, Any]:
        return {"listVersion": self.station.local_list_version}

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location: str, **_: Any) -> dict[str, Any]:
        self.station.spawn(self._upload_diagnostics())
        return {"fileName": f"{self.station.identity}-diagnostics.log"}

    async def _upload_diagnostics(self) -> None:
        for status in ("Uploading", "Uploaded"):
            await self.station.call("DiagnosticsStatusNotification", {"status": status})

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> dict[str, Any]:
        self.station.spawn(self._install_firmware())
        return {}

    async def _install_firmware(self) -> None:
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            self.firmware_status = status
            await self.station.call("FirmwareStatusNotification", {"status": status})


_REASONS = {
    "DeAuthorized",
    "EmergencyStop",
    "EVDisconnected",
    "HardReset",
    "Local",
    "Other",
    "PowerLoss",
    "Reboot",
    "Remote",
    "SoftReset",
    "UnlockCommand",
}
