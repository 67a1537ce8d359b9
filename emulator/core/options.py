"""What one emulated station is told to be: the `emulate` flags, also built directly by tests and
load scripts, so the names and defaults here are the emulator's public interface."""

from __future__ import annotations

import ssl
from dataclasses import dataclass


@dataclass
class StationOptions:
    identity: str
    url: str = "ws://127.0.0.1:8000/ocpp/"
    protocol: str = "2.0.1"
    password: str | None = None
    connectors: int = 1
    vendor: str = "CSMS-Emulator"
    model: str = "Virtual-1"
    serial_number: str = ""
    firmware_version: str = "1.0.0"
    power_w: float = 11_000.0
    call_timeout: float = 30.0
    meter_interval: float | None = None  # None: MeterValueSampleInterval / TxUpdatedInterval
    heartbeat_interval: float | None = None  # None: the interval the CSMS gives at boot
    reconnect: bool = True
    # Seconds per second of the RetryBackOff* and TransactionMessageRetryInterval settings, which
    # are whole seconds: tests shrink the station's waits after a failure (0.05: 50 ms per second).
    retry_unit: float = 1.0
    clock_skew_seconds: float = 0.0
    ssl_context: ssl.SSLContext | None = None
    ping_interval: float | None = 20.0  # WebSocket keepalive pings; None: only answer the CSMS's
    # The station's message limits (emulator.core.device.Limits), reported and enforced.
    items_per_message: int = 8  # DeviceDataCtrlr.ItemsPerMessage[GetVariables|SetVariables|...]
    bytes_per_message: int = 4096  # DeviceDataCtrlr.BytesPerMessage[...]
    configuration_max_keys: int = 20  # 1.6 GetConfigurationMaxKeys
    local_list_max: int = 1000  # LocalAuthListMaxLength (2.0.1 LocalAuthListCtrlr.Entries)
    local_list_items: int = 100  # SendLocalListMaxLength (LocalAuthListCtrlr.ItemsPerMessage)
    # The EV: it takes at most ev_max_current_a and nothing below ev_min_current_a (per phase,
    # three phases); None / 0: it takes whatever the station gives.
    ev_min_current_a: float = 0.0
    ev_max_current_a: float | None = None
    # Fault injection, to reproduce field bugs in a CSMS.
    duplicate_messages: bool = False  # send every transaction message twice
    out_of_order: bool = False  # swap consecutive meter messages before sending
