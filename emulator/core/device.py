"""The emulated station's settings: 1.6 configuration keys and a 2.0.1 device model over them.

Both versions read and write the same values, so a HeartbeatInterval changed through 1.6
ChangeConfiguration or 2.0.1 SetVariables changes the one heartbeat the station sends. Keys are
read-only or write-only as the specifications say (AuthorizationKey / BasicAuthPassword are never
reported back). The model is realistic enough to test a CSMS's side of block B:

- characteristics (unit, data type, limits, allowed values) reported and enforced, so a value out
  of range is Rejected;
- the station's message limits (DeviceDataCtrlr.ItemsPerMessage / BytesPerMessage for
  GetVariables, SetVariables and GetReport; 1.6 GetConfigurationMaxKeys), which the 2.0.1 handlers
  enforce with an OccurrenceConstraintViolation CALLERROR;
- a variable that takes effect only after a reboot (WebSocketPingInterval: RebootRequired, applied
  by the next Reset);
- EVSE and connector components (`EVSE@1.AvailabilityState`, `Connector@1:1.ConnectorType`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

# What a new value must parse as, and the 2.0.1 dataType it is reported with.
DATA_TYPES = {
    "int": "integer",
    "bool": "boolean",
    "str": "string",
    "decimal": "decimal",
    "option": "OptionList",
    "members": "MemberList",
}


@dataclass
class Setting:
    value: str
    readonly: bool = False
    writeonly: bool = False
    kind: str = "int"  # a key of DATA_TYPES
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[str, ...] = ()  # option / members: the allowed values
    unit: str = ""
    reboot: bool = False  # a change is applied at the next reboot (RebootRequired)
    pending: str | None = None  # the value waiting for that reboot
    monitored: bool = False  # supportsMonitoring

    def accepts(self, value: str) -> bool:
        if self.kind in ("int", "decimal"):
            try:
                number = int(value) if self.kind == "int" else float(value)
            except ValueError:
                return False
            low = 0 if self.minimum is None else self.minimum
            return number >= low and (self.maximum is None or number <= self.maximum)
        if self.kind == "bool":
            return value.lower() in ("true", "false")
        if self.kind == "option":
            return value in self.values
        if self.kind == "members":
            members = [m.strip() for m in value.split(",") if m.strip()]
            return bool(members) and all(m in self.values for m in members)
        return self.maximum is None or len(value) <= self.maximum

    def characteristics(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dataType": DATA_TYPES[self.kind],
            # Numbers can be monitored (emulator.v201.monitoring); others only where told.
            "supportsMonitoring": self.monitored or self.kind in ("int", "decimal"),
        }
        if self.unit:
            out["unit"] = self.unit
        if self.minimum is not None:
            out["minLimit"] = self.minimum
        if self.maximum is not None:
            out["maxLimit"] = self.maximum
        if self.values:
            out["valuesList"] = ",".join(self.values)
        return out


class Ref(NamedTuple):
    """A 2.0.1 component/variable: (component, variable, variable instance, EVSE, connector)."""

    component: str
    variable: str
    instance: str = ""
    evse: int = 0
    connector: int = 0

    @classmethod
    def of(cls, component: dict[str, Any], variable: dict[str, Any]) -> Ref:
        """From a request's ComponentType / VariableType (snake_case, as handlers get them)."""
        evse = component.get("evse") or {}
        return cls(
            component["name"],
            variable["name"],
            variable.get("instance") or "",
            int(evse.get("id") or 0),
            int(evse.get("connector_id") or 0),
        )

    def wire(self) -> tuple[dict[str, Any], dict[str, Any]]:
        component: dict[str, Any] = {"name": self.component}
        if self.evse:
            component["evse"] = {"id": self.evse}
            if self.connector:
                component["evse"]["connectorId"] = self.connector
        variable: dict[str, Any] = {"name": self.variable}
        if self.instance:
            variable["instance"] = self.instance
        return component, variable


# 1.6 key -> (2.0.1 reference, the setting itself). Keys without a 1.6 name are dotted.
_DEFINITIONS: dict[str, tuple[Ref, Setting]] = {
    "HeartbeatInterval": (
        Ref("OCPPCommCtrlr", "HeartbeatInterval"),
        Setting("300", minimum=1, maximum=86400, unit="s"),
    ),
    "MeterValueSampleInterval": (
        Ref("SampledDataCtrlr", "TxUpdatedInterval"),
        Setting("60", maximum=3600, unit="s"),
    ),
    "ClockAlignedDataInterval": (
        Ref("AlignedDataCtrlr", "Interval"),
        Setting("0", maximum=86400, unit="s"),
    ),
    "MeterValuesSampledData": (
        Ref("SampledDataCtrlr", "TxUpdatedMeasurands"),
        Setting(
            "Energy.Active.Import.Register,Power.Active.Import",
            kind="members",
            values=(
                "Energy.Active.Import.Register",
                "Power.Active.Import",
                "Current.Import",
                "Voltage",
                "SoC",
            ),
        ),
    ),
    "AuthorizeRemoteTxRequests": (
        Ref("AuthCtrlr", "AuthorizeRemoteStart"),
        Setting("true", kind="bool"),
    ),
    "LocalAuthListEnabled": (Ref("LocalAuthListCtrlr", "Enabled"), Setting("true", kind="bool")),
    "LocalAuthListMaxLength": (
        Ref("LocalAuthListCtrlr", "Entries"),
        Setting("1000", readonly=True),
    ),
    "SendLocalListMaxLength": (
        Ref("LocalAuthListCtrlr", "ItemsPerMessage"),
        Setting("100", readonly=True),
    ),
    "ConnectionTimeOut": (
        Ref("TxCtrlr", "EVConnectionTimeOut"),
        Setting("60", unit="s"),
    ),
    "TransactionMessageAttempts": (Ref("OCPPCommCtrlr", "MessageAttempts"), Setting("5")),
    "TransactionMessageRetryInterval": (
        Ref("OCPPCommCtrlr", "MessageAttemptInterval"),
        Setting("5", unit="s"),
    ),
    "ResetRetries": (Ref("OCPPCommCtrlr", "ResetRetries"), Setting("2")),
    "RetryBackOffWaitMinimum": (
        Ref("OCPPCommCtrlr", "RetryBackOffWaitMinimum"),
        Setting("3", unit="s"),
    ),
    "RetryBackOffRandomRange": (
        Ref("OCPPCommCtrlr", "RetryBackOffRandomRange"),
        Setting("3", unit="s"),
    ),
    "RetryBackOffRepeatTimes": (Ref("OCPPCommCtrlr", "RetryBackOffRepeatTimes"), Setting("5")),
    "WebSocketPingInterval": (
        Ref("OCPPCommCtrlr", "WebSocketPingInterval"),
        Setting("30", reboot=True, unit="s"),
    ),
    "AuthorizationKey": (
        Ref("SecurityCtrlr", "BasicAuthPassword"),
        Setting("", writeonly=True, kind="str"),
    ),
    "SecurityProfile": (Ref("SecurityCtrlr", "SecurityProfile"), Setting("1", readonly=True)),
    # The O of the station's CSRs (1.6 whitepaper CpoName, 2.0.1 SecurityCtrlr.OrganizationName).
    "CpoName": (Ref("SecurityCtrlr", "OrganizationName"), Setting("CSMS-Emulator", kind="str")),
    "SupportedFeatureProfiles": (
        Ref("DeviceDataCtrlr", "SupportedFeatureProfiles"),
        Setting(
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,"
            "RemoteTrigger",
            readonly=True,
            kind="str",
        ),
    ),
    "TxCtrlr.TxStartPoint": (
        Ref("TxCtrlr", "TxStartPoint"),
        Setting(
            "PowerPathClosed",
            kind="members",
            values=(
                "ParkingBayOccupancy",
                "EVConnected",
                "Authorized",
                "DataSigned",
                "PowerPathClosed",
                "EnergyTransfer",
            ),
        ),
    ),
    "ClockCtrlr.TimeSource": (
        Ref("ClockCtrlr", "TimeSource"),
        Setting("Heartbeat", kind="option", values=("Heartbeat", "NTP", "GPS", "RealTimeClock")),
    ),
}


@dataclass
class Limits:
    """What one message may carry, as the station reports and enforces it."""

    items: int = 8  # DeviceDataCtrlr.ItemsPerMessage[GetVariables|SetVariables|GetReport]
    bytes: int = 4096  # DeviceDataCtrlr.BytesPerMessage[...]
    configuration_keys: int = 20  # 1.6 GetConfigurationMaxKeys
    local_list: int = 1000  # LocalAuthListMaxLength / LocalAuthListCtrlr.Entries' maxLimit
    local_list_items: int = 100  # SendLocalListMaxLength / LocalAuthListCtrlr.ItemsPerMessage
    display_slots: int = 5  # DisplayMessageCtrlr.DisplayMessages' maxLimit


class Device:
    """The settings of one emulated station, addressable by 1.6 key or 2.0.1 reference."""

    def __init__(
        self,
        *,
        connectors: int,
        identity: str,
        vendor: str,
        model: str,
        serial: str,
        limits: Limits | None = None,
    ) -> None:
        # The station listens (e.g. a new HeartbeatInterval restarts the heartbeat timer).
        self.on_change: Callable[[str], None] = lambda key: None
        self.limits = limits or Limits()
        self.network_profiles: dict[int, dict[str, Any]] = {}  # SetNetworkProfile, by slot
        self.settings = {key: replace(s) for key, (_, s) in _DEFINITIONS.items()}
        self._by_ref: dict[Ref, str] = {ref: key for key, (ref, _) in _DEFINITIONS.items()}
        self.settings["NumberOfConnectors"] = Setting(str(connectors), readonly=True)
        # The local list's limits, from the station's options.
        capacity = self.limits.local_list
        self.settings["LocalAuthListMaxLength"] = Setting(
            str(capacity), readonly=True, maximum=capacity
        )
        self.settings["SendLocalListMaxLength"] = Setting(
            str(self.limits.local_list_items), readonly=True
        )
        self.settings["GetConfigurationMaxKeys"] = Setting(
            str(self.limits.configuration_keys), readonly=True
        )
        self._by_ref[Ref("EVSE", "Count")] = "NumberOfConnectors"

        def fixed(key: str, ref: Ref, setting: Setting) -> None:
            self.settings[key] = setting
            self._by_ref[ref] = key

        for variable, value in (
            ("Identity", identity),
            ("VendorName", vendor),
            ("Model", model),
            ("SerialNumber", serial),
        ):
            fixed(
                f"ChargingStation.{variable}",
                Ref("ChargingStation", variable),
                Setting(value, readonly=True, kind="str"),
            )
        for message in ("GetVariables", "SetVariables", "GetReport"):
            fixed(
                f"DeviceDataCtrlr.ItemsPerMessage.{message}",
                Ref("DeviceDataCtrlr", "ItemsPerMessage", message),
                Setting(str(self.limits.items), readonly=True),
            )
            fixed(
                f"DeviceDataCtrlr.BytesPerMessage.{message}",
                Ref("DeviceDataCtrlr", "BytesPerMessage", message),
                Setting(str(self.limits.bytes), readonly=True),
            )
        for variable, setting in (
            ("SupportedFormats", Setting("ASCII,UTF8,HTML", readonly=True, kind="str")),
            (
                "SupportedPriorities",
                Setting("AlwaysFront,InFront,NormalCycle", readonly=True, kind="str"),
            ),
            ("DisplayMessages", Setting("0", readonly=True, maximum=self.limits.display_slots)),
        ):
            fixed(f"DisplayMessageCtrlr.{variable}", Ref("DisplayMessageCtrlr", variable), setting)
        for message in ("SetVariableMonitoring", "ClearVariableMonitoring"):
            fixed(
                f"MonitoringCtrlr.ItemsPerMessage.{message}",
                Ref("MonitoringCtrlr", "ItemsPerMessage", message),
                Setting(str(self.limits.items), readonly=True),
            )
            fixed(
                f"MonitoringCtrlr.BytesPerMessage.{message}",
                Ref("MonitoringCtrlr", "BytesPerMessage", message),
                Setting(str(self.limits.bytes), readonly=True),
            )
        for evse in range(1, connectors + 1):
            fixed(
                f"EVSE.{evse}.AvailabilityState",
                Ref("EVSE", "AvailabilityState", evse=evse),
                Setting("Available", readonly=True, kind="str", monitored=True),
            )
            fixed(
                f"EVSE.{evse}.Power",
                Ref("EVSE", "Power", evse=evse),
                Setting("22000", readonly=True, kind="decimal", maximum=22000, unit="W"),
            )
            fixed(
                f"Connector.{evse}.ConnectorType",
                Ref("Connector", "ConnectorType", evse=evse, connector=1),
                Setting("cType2", readonly=True, kind="str"),
            )

    # --- typed reads used by the station's behaviour ----------------------------------------------

    def integer(self, key: str) -> int:
        return int(self.settings[key].value)

    def flag(self, key: str) -> bool:
        return self.settings[key].value.lower() == "true"

    def reboot(self) -> None:
        """The station restarts: values that waited for it take effect."""
        for key, setting in self.settings.items():
            if setting.pending is not None:
                setting.value, setting.pending = setting.pending, None
                self.on_change(key)

    # --- 1.6 --------------------------------------------------------------------------------------

    def get_configuration(self, keys: list[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
        wanted = keys or [k for k in self.settings if "." not in k]
        known: list[dict[str, Any]] = []
        unknown: list[str] = []
        for key in wanted:
            setting = self.settings.get(key)
            if setting is None or "." in key:
                unknown.append(key)
                continue
            entry: dict[str, Any] = {"key": key, "readonly": setting.readonly}
            if not setting.writeonly:
                entry["value"] = setting.value
            known.append(entry)
        return known, unknown

    def change_configuration(self, key: str, value: str) -> str:
        """Accepted, Rejected, RebootRequired or NotSupported, as 1.6 ChangeConfiguration
        answers."""
        setting = self.settings.get(key)
        if setting is None or "." in key:
            return "NotSupported"
        if key == "AuthorizationKey":
            try:
                value = bytes.fromhex(value).decode()  # sent hex-encoded (1.6 security whitepaper)
            except ValueError:
                return "Rejected"
        return self._change(key, setting, value)

    def _change(self, key: str, setting: Setting, value: str) -> str:
        if setting.readonly or not setting.accepts(value):
            return "Rejected"
        if setting.reboot:
            setting.pending = value
            return "RebootRequired"
        setting.value = value
        self.on_change(key)
        return "Accepted"

    # --- 2.0.1 ------------------------------------------------------------------------------------

    def key_of(self, ref: Ref) -> str | None:
        """The setting a 2.0.1 reference names, None if none."""
        return self._by_ref.get(ref)

    def lookup(self, ref: Ref) -> tuple[str, str | None]:
        """(status, key): the key, or UnknownComponent / UnknownVariable."""
        key = self._by_ref.get(ref)
        if key is not None:
            return "Accepted", key
        known = any(r.component == ref.component and r.evse == ref.evse for r in self._by_ref)
        return ("UnknownVariable" if known else "UnknownComponent"), None

    def get_variable(self, ref: Ref, attribute_type: str = "Actual") -> tuple[str, str | None]:
        """(attributeStatus, value) as 2.0.1 GetVariables answers."""
        status, key = self.lookup(ref)
        if key is None:
            return status, None
        if attribute_type != "Actual":
            return "NotSupportedAttributeType", None
        setting = self.settings[key]
        if setting.writeonly:
            return "Rejected", None
        return "Accepted", setting.value

    def set_variable(self, ref: Ref, value: str, attribute_type: str = "Actual") -> str:
        status, key = self.lookup(ref)
        if key is None:
            return status
        if attribute_type != "Actual":
            return "NotSupportedAttributeType"
        return self._change(key, self.settings[key], value)

    def report(self) -> list[dict[str, Any]]:
        """reportData entries for NotifyReport: every variable with its attribute, mutability and
        characteristics."""
        data: list[dict[str, Any]] = []
        for ref, key in sorted(self._by_ref.items()):
            setting = self.settings[key]
            attribute: dict[str, Any] = {
                "type": "Actual",
                "mutability": "ReadOnly"
                if setting.readonly
                else "WriteOnly"
                if setting.writeonly
                else "ReadWrite",
                "persistent": True,
                "constant": setting.readonly and ref.component == "ChargingStation",
            }
            if not setting.writeonly:
                attribute["value"] = setting.value
            component, variable = ref.wire()
            data.append(
                {
                    "component": component,
                    "variable": variable,
                    "variableAttribute": [attribute],
                    "variableCharacteristics": setting.characteristics(),
                }
            )
        return data
