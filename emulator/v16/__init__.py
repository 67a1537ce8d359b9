"""OCPP 1.6J for the emulated station: one module per feature profile part, composed here.

Protocol16 supports the feature profiles Core, FirmwareManagement, LocalAuthListManagement,
Reservation, SmartCharging and RemoteTrigger. To add behaviour (say the Security whitepaper's
certificate messages), write a block mixin in its own module (its version-neutral half, if 2.0.1
shares it, in `emulator.protocol`) and add it to the bases below; `ProtocolBase` refuses a block
that routes an action another block already handles.
"""

from __future__ import annotations

from emulator.protocol.data_transfer import DataTransferBlock
from emulator.v16.authorization import Authorization16
from emulator.v16.availability import Availability16
from emulator.v16.certificates import Certificates16
from emulator.v16.configuration import Configuration16
from emulator.v16.diagnostics import Diagnostics16
from emulator.v16.firmware import Firmware16
from emulator.v16.local_list import LocalList16
from emulator.v16.meter_values import MeterValues16
from emulator.v16.provisioning import Provisioning16
from emulator.v16.remote_trigger import RemoteTrigger16
from emulator.v16.reservation import Reservation16
from emulator.v16.smart_charging import SmartCharging16
from emulator.v16.transactions import Transactions16


class Protocol16(
    Provisioning16,
    Configuration16,
    Authorization16,
    LocalList16,
    Transactions16,
    SmartCharging16,
    MeterValues16,
    Availability16,
    Reservation16,
    RemoteTrigger16,
    Firmware16,
    Diagnostics16,
    Certificates16,
    DataTransferBlock,
):
    version = "1.6"
    subprotocol = "ocpp1.6"
