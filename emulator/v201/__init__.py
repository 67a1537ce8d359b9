"""OCPP 2.0.1 for the emulated station: one module per functional block, composed here.

To add a block (say O, display messages, or monitoring with NotifyEvent), write a mixin in its own
module here (its version-neutral half, if 1.6 shares it, in `emulator.protocol`) and add it to the
bases below; `ProtocolBase` refuses a block that routes an action another block already handles.
"""

from __future__ import annotations

from emulator.protocol.data_transfer import DataTransferBlock
from emulator.v201.authorization import Authorization201
from emulator.v201.availability import Availability201
from emulator.v201.certificates import Certificates201
from emulator.v201.device_model import DeviceModel201
from emulator.v201.diagnostics import Diagnostics201
from emulator.v201.display import Display201
from emulator.v201.firmware import Firmware201
from emulator.v201.local_list import LocalList201
from emulator.v201.meter_values import MeterValues201
from emulator.v201.monitoring import Monitoring201
from emulator.v201.provisioning import Provisioning201
from emulator.v201.remote_trigger import RemoteTrigger201
from emulator.v201.reservation import Reservation201
from emulator.v201.smart_charging import SmartCharging201
from emulator.v201.transactions import Transactions201


class Protocol201(
    Provisioning201,
    DeviceModel201,
    Authorization201,
    LocalList201,
    Transactions201,
    SmartCharging201,
    MeterValues201,
    Availability201,
    Reservation201,
    RemoteTrigger201,
    Firmware201,
    Diagnostics201,
    Certificates201,
    Monitoring201,
    Display201,
    DataTransferBlock,
):
    version = "2.0.1"
    subprotocol = "ocpp2.0.1"
