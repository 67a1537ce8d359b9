"""BootNotification: record what the station says it is, and answer from its registration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from django.conf import settings

from stations.clock import utcnow
from stations.events import publish
from stations.models import FlagReason, RegistrationStatus, Station
from stations.services.liveness import flag_open_transactions
from stations.sql import SelectOne, update_fields


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


# What the station reports, stored under the same names; its `reason` becomes `boot_reason`.
FIRMWARE_BOOT_REASON = "FirmwareUpdate"  # 2.0.1 BootReasonEnumType
_REPORTED = [f.name for f in fields(BootInfo) if f.name != "reason"]
_BOOT_FIELDS = [*_REPORTED, "boot_reason", "boot_status", "last_boot_at"]
_station = SelectOne(Station, ["id"])

# What else a boot means, for apps of their own (firmware: the version a boot reports proves an
# update). Called with (station, firmware version before, after, boot reason) in the boot's own
# transaction, only when the version changed or the station says it booted for a firmware update:
# other boots cost nothing more.
AfterBoot = Callable[[str, str, str, str], None]
after_boot: list[AfterBoot] = []


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
    before = station.firmware_version if station is not None else ""
    if station is not None:
        for name in _REPORTED:
            setattr(station, name, getattr(info, name))
        station.boot_reason = info.reason
        station.boot_status = status
        station.last_boot_at = utcnow()
        update_fields(station, _BOOT_FIELDS)
    if station is not None and (
        before != info.firmware_version or info.reason == FIRMWARE_BOOT_REASON
    ):
        for hook in after_boot:
            hook(identity, before, info.firmware_version, info.reason)
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
