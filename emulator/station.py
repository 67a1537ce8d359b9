"""An emulated charging station: the station side of OCPP-J, over one WebSocket at a time.

It behaves like a real station because the things that break CSMSs in the field are behaviours, not
messages: it boots and retries while Pending or Rejected, reports every connector, heartbeats at the
interval it is given, sends one CALL at a time, reconnects with exponential back-off and jitter, and
keeps transaction messages in an ordered outbox that survives disconnections, so every start, meter
value and stop is delivered, in order, at least once (the CSMS's idempotency makes it exactly once).

This module only assembles a station. Its behaviour is version-neutral and lives in
`emulator.core`, one part per module; what differs between versions (payload shapes, the commands a
CSMS sends) is the protocol object, `emulator.v16.Protocol16` or `emulator.v201.Protocol201`, built
on `emulator.protocol`. The names tests and tools use stay importable from here.
"""

from __future__ import annotations

import asyncio
import random

from emulator.core.connection import Connection
from emulator.core.device import Device, Limits
from emulator.core.heartbeat import Heartbeat
from emulator.core.lifecycle import Lifecycle
from emulator.core.options import StationOptions
from emulator.core.outbox import Outbox, OutboxItem
from emulator.core.state import Connector, Reservation, Stats, Transaction
from emulator.core.transactions import ChargingSessions
from emulator.protocol.base import ProtocolBase
from emulator.v16 import Protocol16
from emulator.v201 import Protocol201

__all__ = [
    "SUBPROTOCOL",
    "Connector",
    "EmulatedStation",
    "OutboxItem",
    "Reservation",
    "StationOptions",
    "Stats",
    "Transaction",
]

SUBPROTOCOL = {protocol.version: protocol.subprotocol for protocol in (Protocol16, Protocol201)}


class EmulatedStation(ChargingSessions, Lifecycle):
    """One station: its state, its parts (`emulator.core`) and its version's protocol object."""

    def _setting_changed(self, key: str) -> None:
        self.heartbeat.setting_changed(key)
        self.protocol.setting_changed(key)
        if key == "AuthorizationKey":
            # A new key (a rotation, A01): reconnect with it once this answer is out, as a Reset
            # does, so that the CSMS can revoke the old one.
            self.spawn(self._reconnect_with_new_key())

    async def _reconnect_with_new_key(self) -> None:
        self.close_connection(reconnect_now=True)

    def __init__(self, options: StationOptions, *, rng: random.Random | None = None) -> None:
        self.options = options
        self.identity = options.identity
        self.rng = rng or random.Random()
        self.device = Device(
            connectors=options.connectors,
            identity=options.identity,
            vendor=options.vendor,
            model=options.model,
            serial=options.serial_number or f"EMU-{options.identity}",
            limits=Limits(
                items=options.items_per_message,
                bytes=options.bytes_per_message,
                configuration_keys=options.configuration_max_keys,
                local_list=options.local_list_max,
                local_list_items=options.local_list_items,
            ),
        )
        if options.password:
            self.device.settings["AuthorizationKey"].value = options.password
        self.connectors = {
            i: Connector(i, meter_wh=float(self.rng.randint(0, 5_000_000)))
            for i in range(1, options.connectors + 1)
        }
        self.stats = Stats()
        # What the station's display showed its drivers: the CSMS's tariff messages (I01), the
        # running cost (CostUpdated, I02) and the final one (I03).
        self.screen: list[str] = []
        self._tasks = set()
        protocol_class: type[ProtocolBase] = (
            Protocol16 if options.protocol == "1.6" else Protocol201
        )
        self.protocol = protocol_class(self)
        # The parts with state of their own.
        self.connection = Connection(
            options, self.device, self.rng, subprotocol=protocol_class.subprotocol, spawn=self.spawn
        )
        self.outbox = Outbox(
            options, self.device, self.stats, is_meter_message=self.protocol.is_meter_message
        )
        self.heartbeat = Heartbeat(options, self.device)
        self.device.on_change = self._setting_changed
        # The state the mixins share (declared where it is used: emulator/core/*.py).
        self.rpc = None
        self.online = asyncio.Event()
        self.boot_answer = None
        self.boot_reason = "PowerUp"
        self.pending_reset = None
        self.local_list = {}
        self.local_list_version = 0
