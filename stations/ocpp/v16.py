"""OCPP 1.6J: the messages a charge point sends to the central system."""

from __future__ import annotations

from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, DataTransferStatus

from stations import db
from stations.clock import ocpp_now, ocpp_time, parse_ocpp_time, parse_required_ocpp_time
from stations.db import in_db_thread
from stations.ocpp.base import StationSession
from stations.ocpp.readings import samples_16
from stations.services import charging_time
from stations.services.authorization import Authorization, authorize
from stations.services.boot import BootInfo
from stations.services.status import ConnectorStatus, record_connector_status
from stations.services.transactions import (
    MeterReport,
    StartTransaction,
    StopTransaction,
    connector_status_16,
    meter_values_16,
    transaction_start_16,
    transaction_stop_16,
)
from tariffs import services as tariffs


def id_tag_info(auth: Authorization) -> dict[str, Any]:
    info: dict[str, Any] = {"status": auth.status}
    if auth.expires_at:
        info["expiryDate"] = ocpp_time(auth.expires_at)
    if auth.group_token:
        info["parentIdTag"] = auth.group_token
    return info


class StationSession16(StationSession):
    version = "1.6"

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **fields: Any
    ) -> call_result.BootNotification:
        answer = await self.boot(
            BootInfo(
                vendor=charge_point_vendor,
                model=charge_point_model,
                serial_number=fields.get("charge_point_serial_number")
                or fields.get("charge_box_serial_number", ""),
                firmware_version=fields.get("firmware_version", ""),
                iccid=fields.get("iccid", ""),
                imsi=fields.get("imsi", ""),
                meter_type=fields.get("meter_type", ""),
                meter_serial_number=fields.get("meter_serial_number", ""),
            )
        )
        return call_result.BootNotification(
            current_time=ocpp_now(), interval=answer.interval, status=answer.status
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        self.heartbeat()
        return call_result.Heartbeat(current_time=ocpp_now())

    @on(Action.status_notification)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **fields: Any
    ) -> call_result.StatusNotification:
        report = ConnectorStatus(
            evse_id=connector_id,  # a 1.6 connector is a 2.0.1 EVSE with one connector
            connector_id=1,
            status=status,
            error_code=error_code,
            info=fields.get("info", ""),
            vendor_id=fields.get("vendor_id", ""),
            vendor_error_code=fields.get("vendor_error_code", ""),
            timestamp=parse_ocpp_time(fields.get("timestamp")),
        )
        if status in charging_time.STATES_16 and connector_id > 0:
            await self.apply(connector_status_16, report)  # its transaction's charging state too
        else:
            await self.apply(record_connector_status, report)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> dict[str, Any]:
        auth = await db.read(authorize, id_tag)
        return {"idTagInfo": id_tag_info(auth)}

    @on(Action.start_transaction)
    async def on_start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: str,
        reservation_id: int | None = None,
    ) -> dict[str, Any]:
        start = StartTransaction(
            connector_id, id_tag, meter_start, parse_required_ocpp_time(timestamp), reservation_id
        )
        started = await self.apply(transaction_start_16, start)
        return {
            "transactionId": started.transaction_id,
            "idTagInfo": id_tag_info(started.authorization),
        }

    @after(Action.start_transaction)
    async def after_start_transaction(self, connector_id: int, timestamp: str, **_: Any) -> None:
        """A session keeps the prices in force when it starts (priced after the answer)."""
        await in_db_thread(tariffs.session_started_16)(
            self.identity, connector_id, parse_required_ocpp_time(timestamp)
        )

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self,
        transaction_id: int,
        meter_stop: int,
        timestamp: str,
        id_tag: str | None = None,
        reason: str = "",
        transaction_data: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        stop = StopTransaction(
            transaction_id,
            meter_stop,
            parse_required_ocpp_time(timestamp),
            reason=reason,
            id_tag=id_tag,
            samples=samples_16(transaction_data or ()),
        )
        auth = await self.apply(transaction_stop_16, stop)
        return {"idTagInfo": id_tag_info(auth)} if auth else {}

    @after(Action.stop_transaction)
    async def after_stop_transaction(self, transaction_id: int, **_: Any) -> None:
        """The session's final cost, stored (1.6 has no field to tell the station)."""
        await in_db_thread(tariffs.final_cost_16)(self.identity, transaction_id)

    @on(Action.meter_values)
    async def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[dict[str, Any]],
        transaction_id: int | None = None,
    ) -> call_result.MeterValues:
        report = MeterReport(connector_id, samples_16(meter_value), transaction_id)
        await self.apply(meter_values_16, report)
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(
        self, vendor_id: str, message_id: str = "", data: str | None = None
    ) -> call_result.DataTransfer:
        # No vendor extensions are implemented: the data is recorded and the vendor is unknown,
        # the answer 1.6 §6.17 gives for a vendorId the receiver does not know.
        await self.record_notification(
            "DataTransfer", vendor_id=vendor_id, message_id=message_id, data=data
        )
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status_notification(
        self, status: str
    ) -> call_result.DiagnosticsStatusNotification:
        await self.log_status(status, None)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status_notification(
        self, status: str
    ) -> call_result.FirmwareStatusNotification:
        await self.firmware_status(status, None)
        return call_result.FirmwareStatusNotification()

    @on(Action.signed_firmware_status_notification)
    async def on_signed_firmware_status_notification(
        self, status: str, request_id: int | None = None
    ) -> call_result.SignedFirmwareStatusNotification:
        await self.firmware_status(status, request_id)
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.security_event_notification)
    async def on_security_event_notification(
        self, type: str, timestamp: str, tech_info: str = ""
    ) -> call_result.SecurityEventNotification:
        await self.security_event(type, timestamp, tech_info)
        return call_result.SecurityEventNotification()

    @on(Action.sign_certificate)
    async def on_sign_certificate(self, csr: str) -> call_result.SignCertificate:
        request = await self.sign_certificate(csr, "ChargingStationCertificate", typed=False)
        return call_result.SignCertificate(status="Rejected" if request.problem else "Accepted")

    @after(Action.sign_certificate)
    async def after_sign_certificate(self, **_: Any) -> None:
        await self.deliver_certificates()

    @on(Action.log_status_notification)
    async def on_log_status_notification(
        self, status: str, request_id: int | None = None
    ) -> call_result.LogStatusNotification:
        await self.log_status(status, request_id)
        return call_result.LogStatusNotification()
