"""BootNotification: record what the station says it is, and answer from its registration."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from stations.clock import utcnow
from stations.events import publish
from stations.models import FlagReason, RegistrationStatus, Station
from stations.services.liveness import flag_open_transactions


@dataclass(frozen=True)
class BootInfo:
    vendor: str
    model: str
    serial_number: str = ""
    firmware_version: str = ""
    iccid: str = ""
    imsi: str = ""
    meter_type: str = ""
    meter_serial_number: str = ""
    reason: str = ""


@dataclass(frozen=True)
class BootAnswer:
    status: str
    interval: int


def station_boot(identity: str, info: BootInfo) -> BootAnswer:
    """Store the boot and answer Accepted, Pending or Rejected from the registration status.

    Accepted carries the heartbeat interval; Pending and Rejected the minimum wait before the
    station retries its BootNotification. A boot (other than one the CSMS triggered) with
    transactions still open flags them: a rebooted station may have lost them.
    """
    registration = (
        Station.objects.filter(pk=identity).values_list("registration_status", flat=True).first()
    )
    status = registration or RegistrationStatus.REJECTED
    Station.objects.filter(pk=identity).update(
        vendor=info.vendor,
        model=info.model,
        serial_number=info.serial_number,
        firmware_version=info.firmware_version,
        iccid=info.iccid,
        imsi=info.imsi,
        meter_type=info.meter_type,
        meter_serial_number=info.meter_serial_number,
        boot_reason=info.reason,
        boot_status=status,
        last_boot_at=utcnow(),
    )
    if info.reason != "Triggered":
        flag_open_transactions(
            identity,
            FlagReason.STATION_REBOOTED,
            f"the station booted again (reason: {info.reason or 'not given'})",
        )
    publish(
        "station",
        id=identity,
        boot_status=status,
        vendor=info.vendor,
        model=info.model,
        firmware_version=info.firmware_version,
    )
    interval = (
        settings.OCPP_HEARTBEAT_INTERVAL
        if status == RegistrationStatus.ACCEPTED
        else settings.OCPP_BOOT_RETRY_INTERVAL
    )
    return BootAnswer(status=status, interval=interval)
