"""OCPP 2.0.1: the messages a charging station sends to the CSMS."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from ocpp.charge_point import snake_to_camel_case
from ocpp.routing import after, on
from ocpp.v201 import call_result
from ocpp.v201.enums import Action, DataTransferStatusEnumType

from certificates import contracts, ocsp
from devicemodel.readings import ReportEntry, ReportPart
from devicemodel.reports import report_part
from displays import services as displays
from firmware.services import publication_status
from monitoring import services as monitoring
from smartcharging import load
from smartcharging import services as smart
from stations import db
from stations.clock import ocpp_now, ocpp_time, parse_ocpp_time
from stations.db import in_db_thread
from stations.ocpp.base import StationSession
from stations.ocpp.readings import samples_201, token_201, transaction_update
from stations.reservation_link import link as reservations
from stations.services.authorization import Authorization, PresentedToken, authorize
from stations.services.boot import BootInfo
from stations.services.status import ConnectorStatus, record_connector_status
from stations.services.transactions import MeterReport, meter_values_201, transaction_event_201
from tariffs import services as tariffs
from tariffs.lookup import tariff_text
from tariffs.remote import wire_cost

REMOTE_STARTS_KEPT = 64


def id_token_info(auth: Authorization, tariff: str = "") -> dict[str, Any]:
    """idTokenInfo; `tariff`: the price here, shown to a driver who is accepted (I01)."""
    info: dict[str, Any] = {"status": auth.status}
    if auth.expires_at:
        info["cacheExpiryDateTime"] = ocpp_time(auth.expires_at)
    if auth.group_token:
        info["groupIdToken"] = {"idToken": auth.group_token, "type": auth.group_type or "Central"}
    if tariff and auth.status == "Accepted":
        info["personalMessage"] = {"format": "UTF8", "content": tariff}
    return info


class StationSession201(StationSession):
    version = "2.0.1"

    def __init__(self, identity: str, *, accepted: bool):
        super().__init__(identity, accepted=accepted)
        # remoteStartId -> the ID token of a RequestStartTransaction sent on this socket, for a
        # TransactionEvent that leaves the token out (the station may: it was in the request).
        self.remote_starts: dict[int, PresentedToken] = {}

    def command_sent(self, action: str, payload: dict[str, Any]) -> None:
        if action == "RequestStartTransaction" and "idToken" in payload:
            token = payload["idToken"]  # the CSMS's own camelCase payload, as it goes out
            self.remote_starts[payload["remoteStartId"]] = PresentedToken(
                token.get("idToken", ""), token.get("type", "")
            )
            while len(self.remote_starts) > REMOTE_STARTS_KEPT:
                del self.remote_starts[next(iter(self.remote_starts))]

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **_: Any
    ) -> call_result.BootNotification:
        modem = charging_station.get("modem") or {}
        answer = await self.boot(
            BootInfo(
                vendor=charging_station["vendor_name"],
                model=charging_station["model"],
                serial_number=charging_station.get("serial_number", ""),
                firmware_version=charging_station.get("firmware_version", ""),
                iccid=modem.get("iccid", ""),
                imsi=modem.get("imsi", ""),
                reason=reason,
            )
        )
        return call_result.BootNotification(
            current_time=ocpp_now(), interval=answer.interval, status=answer.status
        )

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        self.heartbeat()
        return call_result.Heartbeat(current_time=ocpp_now())

    @on(Action.status_notification)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_: Any
    ) -> call_result.StatusNotification:
        report = ConnectorStatus(
            evse_id, connector_id, connector_status, timestamp=parse_ocpp_time(timestamp)
        )
        await self.apply(record_connector_status, report)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **fields: Any) -> dict[str, Any]:
        hash_data = fields.get("iso15118_certificate_hash_data") or []
        chain = fields.get("certificate") or ""
        if not hash_data and not chain:
            auth = await db.read(authorize, token_201(id_token).value)
            return {"idTokenInfo": id_token_info(auth, await tariff_text(self.identity))}
        # C07: a contract certificate, checked over OCSP (and its chain) before the eMAID.
        certificate_status, auth = await asyncio.gather(
            contracts.certificate_status(hash_data, chain),
            db.read(authorize, token_201(id_token).value),
        )
        if certificate_status != "Accepted":
            auth = Authorization("Invalid")
        elif not auth.known and settings.OCPP_ACCEPT_VALID_CONTRACTS:
            auth = Authorization("Accepted")  # the mobility operator vouches for its contract
        info = id_token_info(auth, await tariff_text(self.identity))
        return {"idTokenInfo": info, "certificateStatus": certificate_status}

    @on(Action.get_certificate_status)
    async def on_get_certificate_status(
        self, ocsp_request_data: dict[str, Any], **_: Any
    ) -> call_result.GetCertificateStatus:
        """M06: the CSMS asks the OCSP responder for the station."""
        status = await ocsp.check(ocsp.CertId.from_wire(ocsp_request_data))
        if status.problem:
            info = {"reasonCode": "OCSPUnavailable", "additionalInfo": status.problem[:512]}
            return call_result.GetCertificateStatus(status="Failed", status_info=info)
        return call_result.GetCertificateStatus(status="Accepted", ocsp_result=status.base64)

    @on(Action.get_15118_ev_certificate)
    async def on_get_15118_ev_certificate(
        self, iso15118_schema_version: str, action: str, exi_request: str, **_: Any
    ) -> call_result.Get15118EVCertificate:
        """M01/M02: forwarded to the contract-certificate provider."""
        answer = await contracts.ev_certificate(
            self.identity, iso15118_schema_version, action, exi_request
        )
        if answer.problem:
            info = {"reasonCode": "ProviderFailed", "additionalInfo": answer.problem[:512]}
            return call_result.Get15118EVCertificate(
                status=answer.status, exi_response=answer.exi_response, status_info=info
            )
        return call_result.Get15118EVCertificate(
            status=answer.status, exi_response=answer.exi_response
        )

    @on(Action.transaction_event)
    async def on_transaction_event(self, **fields: Any) -> dict[str, Any]:
        event = transaction_update(fields)
        auth = await self.apply(
            transaction_event_201, event, remote_start_tokens=self.remote_starts
        )
        answer: dict[str, Any] = {}
        # idTokenInfo answers an event that carried an idToken, and only such an event.
        if auth and event.id_token:
            answer["idTokenInfo"] = id_token_info(auth, await tariff_text(self.identity))
        if event.event_type == "Ended":
            # I03: the final cost, known once the event is stored (none without a tariff:
            # OCPP reads an omitted totalCost as "not free", and 0.00 as free).
            total = await in_db_thread(tariffs.final_cost_201)(self.identity, event.transaction_id)
            if total is not None:
                answer["totalCost"] = wire_cost(total)
        return answer

    @after(Action.transaction_event)
    async def after_transaction_event(
        self, event_type: str, transaction_info: dict[str, Any], **_: Any
    ) -> None:
        """A session keeps the prices in force when it starts (priced after the answer)."""
        if event_type == "Started":
            await in_db_thread(tariffs.session_started_201)(
                self.identity, str(transaction_info["transaction_id"])
            )

    @on(Action.meter_values)
    async def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **_: Any
    ) -> call_result.MeterValues:
        report = MeterReport(evse_id, samples_201(meter_value))
        await self.apply(meter_values_201, report)
        return call_result.MeterValues()

    # --- smart charging (K) ---------------------------------------------------------------------

    @on(Action.report_charging_profiles)
    async def on_report_charging_profiles(
        self,
        request_id: int,
        charging_limit_source: str,
        evse_id: int,
        charging_profile: list[dict[str, Any]],
        **_: Any,
    ) -> call_result.ReportChargingProfiles:
        profiles = [snake_to_camel_case(p) for p in charging_profile]
        await self.apply(smart.reported, evse_id, charging_limit_source, profiles)
        return call_result.ReportChargingProfiles()

    @on(Action.notify_charging_limit)
    async def on_notify_charging_limit(
        self, charging_limit: dict[str, Any], evse_id: int | None = None, **fields: Any
    ) -> call_result.NotifyChargingLimit:
        schedules = [snake_to_camel_case(s) for s in fields.get("charging_schedule") or ()]
        await self.apply(
            smart.limit_notified,
            str(charging_limit["charging_limit_source"]),
            charging_limit.get("is_grid_critical"),
            evse_id,
            schedules,
        )
        return call_result.NotifyChargingLimit()

    @on(Action.cleared_charging_limit)
    async def on_cleared_charging_limit(
        self, charging_limit_source: str, evse_id: int | None = None, **_: Any
    ) -> call_result.ClearedChargingLimit:
        await self.apply(smart.limit_cleared, charging_limit_source, evse_id)
        return call_result.ClearedChargingLimit()

    @on(Action.notify_ev_charging_needs)
    async def on_notify_ev_charging_needs(
        self, evse_id: int, charging_needs: dict[str, Any], **_: Any
    ) -> call_result.NotifyEVChargingNeeds:
        """K15/K17: the needs are kept; with a session on the EVSE the CSMS sends a schedule for
        them (Accepted, K15.FR.03), without one it says none will come (Rejected, K15.FR.04)."""
        needs = snake_to_camel_case(charging_needs)
        if await self.apply(smart.needs_notified, evse_id, needs):
            return call_result.NotifyEVChargingNeeds(status="Accepted")
        return call_result.NotifyEVChargingNeeds(
            status="Rejected", status_info={"reasonCode": "NoTransaction"}
        )

    @after(Action.notify_ev_charging_needs)
    async def after_notify_ev_charging_needs(self, evse_id: int, **_: Any) -> None:
        """K15.FR.07: the schedule for the needs, a TxProfile of the session (once answered)."""
        await load.needs_answered(self.identity, evse_id)

    @on(Action.notify_ev_charging_schedule)
    async def on_notify_ev_charging_schedule(
        self, time_base: str, evse_id: int, charging_schedule: dict[str, Any], **_: Any
    ) -> call_result.NotifyEVChargingSchedule:
        """K16.FR.06/.07: the EV's schedule, kept with its needs; Accepted when it stays within
        the TxProfile the CSMS gave, Rejected when it asks for more."""
        schedule = {"timeBase": time_base, **snake_to_camel_case(charging_schedule)}
        within = await self.apply(smart.ev_schedule_notified, evse_id, schedule)
        return call_result.NotifyEVChargingSchedule(status="Accepted" if within else "Rejected")

    @on(Action.notify_event)
    async def on_notify_event(
        self, generated_at: str, seq_no: int, event_data: list[dict[str, Any]], **fields: Any
    ) -> call_result.NotifyEvent:
        await self.apply(monitoring.events_received, event_data)
        return call_result.NotifyEvent()

    @on(Action.notify_monitoring_report)
    async def on_notify_monitoring_report(
        self, request_id: int, seq_no: int, generated_at: str, **fields: Any
    ) -> call_result.NotifyMonitoringReport:
        await self.apply(
            monitoring.monitoring_report_part,
            request_id,
            seq_no,
            bool(fields.get("tbc", False)),
            parse_ocpp_time(generated_at),
            fields.get("monitor") or [],
        )
        return call_result.NotifyMonitoringReport()

    @on(Action.notify_display_messages)
    async def on_notify_display_messages(
        self, request_id: int, **fields: Any
    ) -> call_result.NotifyDisplayMessages:
        await self.apply(
            displays.messages_part,
            request_id,
            bool(fields.get("tbc", False)),
            fields.get("message_info") or [],
        )
        return call_result.NotifyDisplayMessages()

    @on(Action.notify_customer_information)
    async def on_notify_customer_information(
        self, data: str, seq_no: int, generated_at: str, request_id: int, **fields: Any
    ) -> call_result.NotifyCustomerInformation:
        await self.apply(
            monitoring.customer_part,
            request_id,
            seq_no,
            bool(fields.get("tbc", False)),
            parse_ocpp_time(generated_at),
            data,
        )
        return call_result.NotifyCustomerInformation()

    @on(Action.notify_report)
    async def on_notify_report(
        self, request_id: int, generated_at: str, seq_no: int, **fields: Any
    ) -> call_result.NotifyReport:
        part = ReportPart(
            request_id,
            seq_no,
            bool(fields.get("tbc", False)),
            parse_ocpp_time(generated_at),
            tuple(ReportEntry.from_wire(e) for e in fields.get("report_data") or ()),
        )
        await self.apply(report_part, part)
        if not part.tbc:
            self.reports_expected.discard(request_id)
        return call_result.NotifyReport()

    @on(Action.security_event_notification)
    async def on_security_event_notification(
        self, type: str, timestamp: str, tech_info: str = "", **_: Any
    ) -> call_result.SecurityEventNotification:
        await self.security_event(type, timestamp, tech_info)
        return call_result.SecurityEventNotification()

    @on(Action.sign_certificate)
    async def on_sign_certificate(
        self, csr: str, certificate_type: str | None = None, **_: Any
    ) -> call_result.SignCertificate:
        kind = certificate_type or "ChargingStationCertificate"
        request = await self.sign_certificate(csr, kind, typed=certificate_type is not None)
        if request.problem:
            info = {"reasonCode": "InvalidCSR", "additionalInfo": request.problem[:512]}
            return call_result.SignCertificate(status="Rejected", status_info=info)
        return call_result.SignCertificate(status="Accepted")

    @after(Action.sign_certificate)
    async def after_sign_certificate(self, **_: Any) -> None:
        await self.deliver_certificates()

    @on(Action.firmware_status_notification)
    async def on_firmware_status_notification(
        self, status: str, request_id: int | None = None, **_: Any
    ) -> call_result.FirmwareStatusNotification:
        await self.firmware_status(status, request_id)
        return call_result.FirmwareStatusNotification()

    @on(Action.publish_firmware_status_notification)
    async def on_publish_firmware_status_notification(
        self,
        status: str,
        location: list[str] | None = None,
        request_id: int | None = None,
        **_: Any,
    ) -> call_result.PublishFirmwareStatusNotification:
        await self.apply(publication_status, status, location or [], request_id)
        return call_result.PublishFirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status_notification(
        self, status: str, request_id: int | None = None, **_: Any
    ) -> call_result.LogStatusNotification:
        await self.log_status(status, request_id)
        return call_result.LogStatusNotification()

    @on(Action.data_transfer)
    async def on_data_transfer(
        self, vendor_id: str, message_id: str = "", data: Any = None, **_: Any
    ) -> call_result.DataTransfer:
        await self.record_notification(
            "DataTransfer", vendor_id=vendor_id, message_id=message_id, data=data
        )
        return call_result.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)

    @on(Action.reservation_status_update)
    async def on_reservation_status_update(
        self, reservation_id: int, reservation_update_status: str, **_: Any
    ) -> call_result.ReservationStatusUpdate:
        await self.apply(reservations.station_update, reservation_id, reservation_update_status)
        return call_result.ReservationStatusUpdate()
