"""BootNotification: record what the station says it is, and answer from its registration."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from stations.clock import utcnow
from stations.events import publish
from stations.models import FlagReason, RegistrationStatus, Station
from stations.services.liveness import flag_open_transactions
from stations.sql import SelectOne, update_fields

_station = SelectOne(Station, ["id"])
_BOOT_FIELDS = [
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
    "boot_reason",
    "boot_status",
    "last_boot_at",
]


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
    station = _station.get(identity)
    status = station.registration_status if station else RegistrationStatus.REJECTED
    if station is not None:
        station.vendor = info.vendor
        station.model = info.model
        station.serial_number = info.serial_number
        station.firmware_version = info.firmware_version
        station.iccid = info.iccid
        station.imsi = info.imsi
        station.meter_type = info.meter_type
        station.meter_serial_number = info.meter_serial_number
        station.boot_reason = info.reason
        station.boot_status = status
        station.last_boot_at = utcnow()
        update_fields(station, _BOOT_FIELDS)
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
