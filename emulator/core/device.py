"""The emulated station's settings: 1.6 configuration keys and a small 2.0.1 device model.

Both versions read and write the same values, so a HeartbeatInterval changed through 1.6
ChangeConfiguration or 2.0.1 SetVariables changes the one heartbeat the station sends. Keys are
read-only or write-only as the specifications say (AuthorizationKey / BasicAuthPassword are never
reported back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Setting:
    value: str
    readonly: bool = False
    writeonly: bool = False
    kind: str = "int"  # int, bool or str: what a new value must parse as


# 1.6 key -> (2.0.1 component, variable), and the setting itself.
_DEFINITIONS: dict[str, tuple[tuple[str, str], Setting]] = {
    "HeartbeatInterval": (("OCPPCommCtrlr", "HeartbeatInterval"), Setting("300")),
    "MeterValueSampleInterval": (("SampledDataCtrlr", "TxUpdatedInterval"), Setting("60")),
    "ClockAlignedDataInterval": (("AlignedDataCtrlr", "Interval"), Setting("0")),
    "MeterValuesSampledData": (
        ("SampledDataCtrlr", "TxUpdatedMeasurands"),
        Setting("Energy.Active.Import.Register,Power.Active.Import", kind="str"),
    ),
    "AuthorizeRemoteTxRequests": (
        ("AuthCtrlr", "AuthorizeRemoteStart"),
        Setting("true", kind="bool"),
    ),
    "LocalAuthListEnabled": (("LocalAuthListCtrlr", "Enabled"), Setting("true", kind="bool")),
    "LocalAuthListMaxLength": (("LocalAuthListCtrlr", "Entries"), Setting("1000", readonly=True)),
    "ConnectionTimeOut": (("TxCtrlr", "EVConnectionTimeOut"), Setting("60")),
    "TransactionMessageAttempts": (("OCPPCommCtrlr", "MessageAttempts"), Setting("5")),
    "TransactionMessageRetryInterval": (("OCPPCommCtrlr", "MessageAttemptInterval"), Setting("5")),
    "ResetRetries": (("OCPPCommCtrlr", "ResetRetries"), Setting("2")),
    "RetryBackOffWaitMinimum": (("OCPPCommCtrlr", "RetryBackOffWaitMinimum"), Setting("3")),
    "RetryBackOffRandomRange": (("OCPPCommCtrlr", "RetryBackOffRandomRange"), Setting("3")),
    "RetryBackOffRepeatTimes": (("OCPPCommCtrlr", "RetryBackOffRepeatTimes"), Setting("5")),
    "WebSocketPingInterval": (("OCPPCommCtrlr", "WebSocketPingInterval"), Setting("30")),
    "AuthorizationKey": (
        ("SecurityCtrlr", "BasicAuthPassword"),
        Setting("", writeonly=True, kind="str"),
    ),
    "SecurityProfile": (("SecurityCtrlr", "SecurityProfile"), Setting("1", readonly=True)),
    "SupportedFeatureProfiles": (
        ("DeviceDataCtrlr", "SupportedFeatureProfiles"),
        Setting(
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,"
            "RemoteTrigger",
            readonly=True,
            kind="str",
        ),
    ),
}


class Device:
    """The settings of one emulated station, addressable by 1.6 key or 2.0.1 component/variable."""

    def __init__(
        self, *, connectors: int, identity: str, vendor: str, model: str, serial: str
    ) -> None:
        # The station listens (e.g. a new HeartbeatInterval restarts the heartbeat timer).
        self.on_change: Callable[[str], None] = lambda key: None
        self.settings = {key: Setting(**vars(s)) for key, (_, s) in _DEFINITIONS.items()}
        self.settings["NumberOfConnectors"] = Setting(str(connectors), readonly=True)
        self._by_variable = {ref: key for key, (ref, _) in _DEFINITIONS.items()}
        self._by_variable[("EVSE", "Count")] = "NumberOfConnectors"
        for variable, value in (
            ("Identity", identity),
            ("VendorName", vendor),
            ("Model", model),
            ("SerialNumber", serial),
        ):
            key = f"ChargingStation.{variable}"
            self.settings[key] = Setting(value, readonly=True, kind="str")
            self._by_variable[("ChargingStation", variable)] = key

    # --- typed reads used by the station's behaviour ----------------------------------------------

    def integer(self, key: str) -> int:
        return int(self.settings[key].value)

    def flag(self, key: str) -> bool:
        return self.settings[key].value.lower() == "true"

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
        """Accepted, Rejected or NotSupported, as 1.6 ChangeConfiguration answers."""
        setting = self.settings.get(key)
        if setting is None or "." in key:
            return "NotSupported"
        if setting.readonly or not _parses(value, setting.kind):
            return "Rejected"
        if key == "AuthorizationKey":
            try:
                value = bytes.fromhex(value).decode()  # sent hex-encoded (1.6 security whitepaper)
            except ValueError:
                return "Rejected"
        setting.value = value
        self.on_change(key)
        return "Accepted"

    # --- 2.0.1 ------------------------------------------------------------------------------------

    def get_variable(self, component: str, variable: str) -> tuple[str, str | None]:
        """(attributeStatus, value) as 2.0.1 GetVariables answers."""
        key = self._by_variable.get((component, variable))
        if key is None:
            known_component = any(c == component for c, _ in self._by_variable)
            return ("UnknownVariable" if known_component else "UnknownComponent"), None
        setting = self.settings[key]
        if setting.writeonly:
            return "Rejected", None
        return "Accepted", setting.value

    def set_variable(self, component: str, variable: str, value: str) -> str:
        key = self._by_variable.get((component, variable))
        if key is None:
            known_component = any(c == component for c, _ in self._by_variable)
            return "UnknownVariable" if known_component else "UnknownComponent"
        setting = self.settings[key]
        if setting.readonly or not _parses(value, setting.kind):
            return "Rejected"
        setting.value = value
        self.on_change(key)
        return "Accepted"

    def report(self) -> list[dict[str, Any]]:
        """reportData entries for NotifyReport: every variable with its attribute and mutability."""
        data: list[dict[str, Any]] = []
        for (component, variable), key in sorted(self._by_variable.items()):
            setting = self.settings[key]
            attribute: dict[str, Any] = {
                "type": "Actual",
                "mutability": "ReadOnly"
                if setting.readonly
                else "WriteOnly"
                if setting.writeonly
                else "ReadWrite",
            }
            if not setting.writeonly:
                attribute["value"] = setting.value
            data.append(
                {
                    "component": {"name": component},
                    "variable": {"name": variable},
                    "variableAttribute": [attribute],
                    "variableCharacteristics": {
                        "dataType": {"int": "integer", "bool": "boolean"}.get(
                            setting.kind, "string"
                        ),
                        "supportsMonitoring": False,
                    },
                }
            )
        return data


def _parses(value: str, kind: str) -> bool:
    if kind == "int":
        try:
            return int(value) >= 0
        except ValueError:
            return False
    if kind == "bool":
        return value.lower() in ("true", "false")
    return True
