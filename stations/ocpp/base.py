"""What both protocol versions share about one station's connection.

Handlers are `@on(Action.X)` methods of the version subclasses. Each turns the payload into a typed
value (stations.ocpp.readings), makes at most one database call, `apply` (a write, group-committed
with other stations' writes: stations.db) or `stations.db.read`, and returns the library's
`call_result` dataclass; the RPC endpoint validates and sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from certificates import services as certificates
from certificates.models import SigningRequest
from diagnostics import services as diagnostics
from firmware import services as firmware
from monitoring import security_events
from ocppj import ErrorCode, OcppError
from stations import db
from stations.clock import parse_required_ocpp_time
from stations.models import StationEvent
from stations.recorders import presence
from stations.services.boot import BootAnswer, BootInfo, station_boot
from stations.services.notifications import station_event

BOOT = "BootNotification"
P = ParamSpec("P")
T = TypeVar("T")


class StationSession:
    """Protocol state of one connection: the station's identity and whether it may talk yet."""

    version: str = ""

    def __init__(self, identity: str, *, accepted: bool):
        self.identity = identity
        # Restored from the database on connect: a station accepted at its last boot may carry on
        # after a reconnect without booting again.
        self.accepted = accepted
        self.boot_status = "Accepted" if accepted else ""
        # Messages the CSMS asked for with TriggerMessage, allowed once even before acceptance.
        self.triggered: set[str] = set()
        # requestIds of the reports (GetBaseReport, GetReport) a station not yet accepted was
        # asked for and accepted to send: their NotifyReport parts are let through.
        self.reports_expected: set[int] = set()
        # CSRs accepted on this connection, to sign and deliver once the answer is out:
        # (the request's pk, whether the station named the certificate's type).
        self.to_sign: list[tuple[int, bool]] = []

    def guard(self, action: str) -> None:
        """The boot-order rule: until the CSMS has accepted the station, any CALL other than
        BootNotification (or one the CSMS triggered) gets a SecurityError, and the connection
        stays open. 2.0.1 B02.FR.09 (Pending) and B03.FR.07 (Rejected); 1.6 §4.2 forbids the
        station to send them and has the same error code for the CSMS's answer."""
        if self.accepted or action == BOOT:
            return
        if action == "NotifyReport" and self.reports_expected:
            return  # B02.FR.09: the parts of a report the CSMS asked for while Pending
        if action in self.triggered:
            self.triggered.discard(action)
            return
        state = self.boot_status or "not booted"
        raise OcppError(
            ErrorCode.SECURITY_ERROR,
            f"{action} refused: the station is {state}; send BootNotification and wait for Accepted",
        )

    def command_sent(self, action: str, payload: dict[str, Any]) -> None:
        """Called just before the CSMS sends `action` on this connection; versions that need to
        remember what they asked for override it."""

    async def apply(
        self, service: Callable[Concatenate[str, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """What a message changes: `service(identity, ...)`, committed before this returns."""
        return await db.write(self.identity, service, self.identity, *args, **kwargs)

    async def boot(self, info: BootInfo) -> BootAnswer:
        answer = await self.apply(station_boot, info)
        self.boot_status = answer.status
        self.accepted = answer.status == "Accepted"
        return answer

    def heartbeat(self) -> None:
        presence.heartbeat(self.identity)

    async def record(self, kind: str, type_: str, message: str = "", **data: Any) -> None:
        await self.apply(station_event, kind=kind, type=type_, message=message, data=data)

    async def record_notification(self, type_: str, **data: Any) -> None:
        await self.record(StationEvent.Kind.NOTIFICATION, type_, **data)

    async def security_event(self, type_: str, timestamp: str, tech_info: str) -> None:
        """A SecurityEventNotification (2.0.1 A04, the 1.6 whitepaper): into the security log."""
        when = parse_required_ocpp_time(timestamp)
        await self.apply(security_events.received, type_, when, tech_info)

    async def sign_certificate(self, csr: str, kind: str, typed: bool) -> SigningRequest:
        """A SignCertificate (2.0.1 A02/A03, the 1.6 whitepaper): the CSR checked and recorded;
        an accepted one is signed and sent by `deliver_certificates` after the answer."""
        request = await self.apply(certificates.csr_received, csr, kind)
        if request.state == SigningRequest.State.ACCEPTED:
            self.to_sign.append((request.pk, typed))
        return request

    async def deliver_certificates(self) -> None:
        """The after-hook of SignCertificate: CertificateSigned for what was accepted."""
        while self.to_sign:
            pk, typed = self.to_sign.pop(0)
            await certificates.deliver(self.identity, pk, self.version, typed)

    async def firmware_status(self, status: str, request_id: int | None) -> None:
        """A FirmwareStatusNotification (2.0.1 L01, 1.6) or 1.6 SignedFirmwareStatusNotification:
        onto the update it reports on (firmware/services.py)."""
        await self.apply(firmware.status_notified, status, request_id)

    async def log_status(self, status: str, request_id: int | None) -> None:
        """A LogStatusNotification (2.0.1 N01, the 1.6 whitepaper) or, without a request id, a 1.6
        DiagnosticsStatusNotification: onto the request it reports on."""
        await self.apply(diagnostics.status_notified, status, request_id)
