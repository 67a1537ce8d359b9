"""A station's configuration as the CSMS knows it: the 2.0.1 device model, and 1.6 keys in it.

OCPP 2.0.1 describes a station as components (the station itself, controllers, each EVSE and
connector) holding variables, each with up to four attributes (Actual, Target, MinSet, MaxSet) and
one set of characteristics (unit, data type, limits, allowed values). The CSMS learns it from the
station's reports (GetBaseReport, GetReport → NotifyReport) and from the answers to GetVariables
and SetVariables, and keeps it here so that operators can browse and change it, and so that the
CSMS itself can read the station's limits (how many items a message may hold) before it sends.

1.6 configuration keys land in the same tables: each key is a variable of the component
`OCPP16_COMPONENT`, so one configuration view serves both versions.

Identity of a component: (name, instance, EVSE, connector), with 0 meaning "no EVSE" / "no
connector" (a NULL would not be unique in PostgreSQL).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from stations.models import Station

# The component 1.6 configuration keys are stored under.
OCPP16_COMPONENT = "OCPP16Configuration"


class AttributeType(models.TextChoices):
    ACTUAL = "Actual"
    TARGET = "Target"
    MIN_SET = "MinSet"
    MAX_SET = "MaxSet"


class Mutability(models.TextChoices):
    READ_ONLY = "ReadOnly"
    WRITE_ONLY = "WriteOnly"
    READ_WRITE = "ReadWrite"


class DataType(models.TextChoices):
    STRING = "string"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATE_TIME = "dateTime"
    BOOLEAN = "boolean"
    OPTION_LIST = "OptionList"
    SEQUENCE_LIST = "SequenceList"
    MEMBER_LIST = "MemberList"


class Report(models.Model):
    """One report the CSMS asked for (or a station sent unasked), and how far it got.

    A report arrives in parts (NotifyReport `seqNo` 0, 1, … with `tbc` on all but the last). It is
    complete when the last part and every part before it arrived; until then the inventory it
    brings is kept but nothing the report did not mention is removed, and the report shows as
    incomplete. A complete FullInventory replaces the station's inventory: what it did not list is
    gone from the station.
    """

    class Kind(models.TextChoices):
        FULL = "FullInventory"
        CONFIGURATION = "ConfigurationInventory"
        SUMMARY = "SummaryInventory"
        CUSTOM = "Custom", "GetReport (criteria)"
        CONFIGURATION_16 = "GetConfiguration", "1.6 GetConfiguration"
        MONITORING = "Monitoring", "GetMonitoringReport"
        CUSTOMER = "CustomerInformation"
        DISPLAY = "DisplayMessages", "GetDisplayMessages"
        UNKNOWN = "", "Not requested by the CSMS"

    class Status(models.TextChoices):
        REQUESTED = "Requested", "Requested (no answer yet)"
        ACCEPTED = "Accepted", "Accepted (waiting for parts)"
        RECEIVING = "Receiving"
        COMPLETE = "Complete"
        REJECTED = "Rejected"
        NOT_SUPPORTED = "NotSupported"
        EMPTY = "EmptyResultSet"
        FAILED = "Failed", "Not delivered"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="reports")
    request_id = models.IntegerField()
    kind = models.CharField(max_length=24, choices=Kind.choices, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    criteria = models.JSONField(default=dict, blank=True, help_text="GetReport's criteria.")
    parts = models.JSONField(
        default=list, blank=True, help_text="The seqNo of every part received."
    )
    last_seq_no = models.IntegerField(null=True, blank=True, help_text="The part without tbc.")
    entries = models.PositiveIntegerField(default=0, help_text="Variables reported so far.")
    unknown_keys = models.JSONField(
        default=list, blank=True, help_text="1.6: keys it did not know."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    generated_at = models.DateTimeField(null=True, blank=True, help_text="Station's timestamp.")
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "request_id"], name="report_per_request")
        ]

    def __str__(self) -> str:
        return f"{self.station_id} report {self.request_id} ({self.kind or 'unrequested'})"

    @property
    def missing_parts(self) -> list[int]:
        """The parts not received yet, as far as the CSMS can tell (those before the last)."""
        if self.last_seq_no is None:
            return []
        return sorted(set(range(self.last_seq_no + 1)) - set(self.parts))


class Component(models.Model):
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(max_length=50)
    instance = models.CharField(max_length=50, blank=True)
    evse_id = models.PositiveIntegerField(default=0, help_text="0: not an EVSE's component.")
    connector_id = models.PositiveIntegerField(default=0, help_text="0: not a connector's.")

    class Meta:
        ordering = ["name", "instance", "evse_id", "connector_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "name", "instance", "evse_id", "connector_id"],
                name="component_identity",
            )
        ]

    def __str__(self) -> str:
        return component_label(self.name, self.instance, self.evse_id, self.connector_id)


class Variable(models.Model):
    """A variable and its characteristics (VariableCharacteristicsType, folded in: one each)."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="variables")
    name = models.CharField(max_length=50)
    instance = models.CharField(max_length=50, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    data_type = models.CharField(max_length=16, choices=DataType.choices, blank=True)
    min_limit = models.FloatField(null=True, blank=True)
    max_limit = models.FloatField(null=True, blank=True)
    values_list = models.CharField(max_length=1000, blank=True, help_text="Comma-separated.")
    supports_monitoring = models.BooleanField(null=True, blank=True)
    # The last report that listed it: a complete FullInventory removes what it did not list.
    report = models.ForeignKey(
        Report, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "instance"]
        constraints = [
            models.UniqueConstraint(
                fields=["component", "name", "instance"], name="variable_identity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.component}.{variable_label(self.name, self.instance)}"

    @property
    def allowed_values(self) -> list[str]:
        return [v.strip() for v in self.values_list.split(",") if v.strip()]


class VariableAttribute(models.Model):
    variable = models.ForeignKey(Variable, on_delete=models.CASCADE, related_name="attributes")
    type = models.CharField(max_length=8, choices=AttributeType.choices, default="Actual")
    value = models.CharField(max_length=2500, blank=True)
    # Whether the CSMS knows the value: write-only variables (passwords) are never reported.
    value_known = models.BooleanField(default=True)
    mutability = models.CharField(
        max_length=10, choices=Mutability.choices, default=Mutability.READ_WRITE
    )
    persistent = models.BooleanField(default=False)
    constant = models.BooleanField(default=False)
    # A value the station accepted but applies only after a reboot (SetVariables RebootRequired).
    pending_value = models.CharField(max_length=2500, blank=True)
    reboot_required = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["type"]
        constraints = [
            models.UniqueConstraint(fields=["variable", "type"], name="attribute_per_type")
        ]

    def __str__(self) -> str:
        return f"{self.variable} [{self.type}]"


class VariableChange(models.Model):
    """An operator's (or integrator's) request to change one variable, and the station's answer:
    the configuration's history."""

    class Status(models.TextChoices):
        REQUESTED = "Requested", "Requested (no answer yet)"
        ACCEPTED = "Accepted"
        REJECTED = "Rejected"
        REBOOT_REQUIRED = "RebootRequired"
        UNKNOWN_COMPONENT = "UnknownComponent"
        UNKNOWN_VARIABLE = "UnknownVariable"
        NOT_SUPPORTED = "NotSupportedAttributeType"
        NOT_SUPPORTED_16 = "NotSupported", "NotSupported (1.6)"
        FAILED = "Failed", "Not delivered"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="variable_changes")
    variable = models.ForeignKey(
        Variable, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    component = models.CharField(max_length=120, help_text="Component[instance]@evse:connector")
    variable_name = models.CharField("variable", max_length=110)
    attribute_type = models.CharField(max_length=8, choices=AttributeType.choices, default="Actual")
    value = models.CharField(max_length=2500, blank=True)
    status = models.CharField(max_length=28, choices=Status.choices, default=Status.REQUESTED)
    status_info = models.CharField(max_length=600, blank=True, help_text="reasonCode: info")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, default="api")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.station_id} {self.component}.{self.variable_name} = {self.value!r}"


def variable_label(name: str, instance: str = "") -> str:
    return f"{name}[{instance}]" if instance else name


def component_label(name: str, instance: str = "", evse_id: int = 0, connector_id: int = 0) -> str:
    """`Component[instance]@evse:connector`, the notation operators type and pages show."""
    label = variable_label(name, instance)
    if evse_id:
        label += f"@{evse_id}" + (f":{connector_id}" if connector_id else "")
    return label
