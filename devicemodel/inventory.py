"""The station's inventory: what its reports and answers say it has, upserted in a few statements.

A report part carries up to a few hundred variables; each is matched to its stored component and
variable by identity, the missing ones created, the rest updated, in one statement per table and
kind of change (not one per variable), so a FullInventory of a thousand variables is a handful of
statements per part.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db.models import F

from devicemodel.models import Component, Report, Variable, VariableAttribute
from devicemodel.readings import ReportEntry
from devicemodel.references import Address, ComponentRef, VariableRef
from stations.clock import utcnow

ComponentKey = tuple[str, str, int, int]
VariableKey = tuple[int, str, str]


def _component_key(ref: ComponentRef) -> ComponentKey:
    return (ref.name, ref.instance, ref.evse_id, ref.connector_id)


def components(station_id: str, refs: Iterable[ComponentRef]) -> dict[ComponentRef, Component]:
    """The stored components of `refs`, created where missing."""
    wanted = {_component_key(r): r for r in refs}
    found = {
        (c.name, c.instance, c.evse_id, c.connector_id): c
        for c in Component.objects.filter(station_id=station_id, name__in={k[0] for k in wanted})
    }
    missing = [
        Component(station_id=station_id, name=k[0], instance=k[1], evse_id=k[2], connector_id=k[3])
        for k in wanted
        if k not in found
    ]
    for component in Component.objects.bulk_create(missing):
        found[component.name, component.instance, component.evse_id, component.connector_id] = (
            component
        )
    return {ref: found[key] for key, ref in wanted.items()}


def variables(station_id: str, addresses: Iterable[Address]) -> dict[Address, Variable]:
    """The stored variables at `addresses` (and their components), created where missing."""
    addresses = list(dict.fromkeys(addresses))
    by_ref = components(station_id, (a.component for a in addresses))
    found = {
        (v.component_id, v.name, v.instance): v
        for v in Variable.objects.filter(
            component_id__in={c.pk for c in by_ref.values()},
            name__in={a.variable.name for a in addresses},
        )
    }
    missing: list[Variable] = []
    for address in addresses:
        key = (by_ref[address.component].pk, address.variable.name, address.variable.instance)
        if key not in found:
            found[key] = Variable(
                component=by_ref[address.component],
                name=address.variable.name,
                instance=address.variable.instance,
            )
            missing.append(found[key])
    Variable.objects.bulk_create(missing)
    result: dict[Address, Variable] = {}
    for address in addresses:
        variable = found[
            (by_ref[address.component].pk, address.variable.name, address.variable.instance)
        ]
        variable.component = by_ref[address.component]
        result[address] = variable
    return result


def upsert(station_id: str, entries: Sequence[ReportEntry], report: Report | None) -> int:
    """Store the entries (variables, characteristics, attributes); returns how many."""
    if not entries:
        return 0
    stored = variables(station_id, (e.address for e in entries))
    now = utcnow()
    changed: list[Variable] = []
    attributes: list[VariableAttribute] = []
    for entry in entries:
        variable = stored[entry.address]
        if report is not None:
            variable.report = report
        if entry.characteristics is not None:
            c = entry.characteristics
            variable.unit, variable.data_type = c.unit, c.data_type
            variable.min_limit, variable.max_limit = c.min_limit, c.max_limit
            variable.values_list = c.values_list[:1000]
            variable.supports_monitoring = c.supports_monitoring
        variable.updated_at = now
        changed.append(variable)
        for reading in entry.attributes:
            attributes.append(
                VariableAttribute(
                    variable=variable,
                    type=reading.type,
                    value=(reading.value or "")[:2500],
                    value_known=reading.value is not None,
                    mutability=reading.mutability,
                    persistent=reading.persistent,
                    constant=reading.constant,
                    updated_at=now,
                )
            )
    Variable.objects.bulk_update(
        changed,
        [
            "report",
            "unit",
            "data_type",
            "min_limit",
            "max_limit",
            "values_list",
            "supports_monitoring",
            "updated_at",
        ],
    )
    VariableAttribute.objects.bulk_create(
        attributes,
        update_conflicts=True,
        unique_fields=["variable", "type"],
        update_fields=[
            "value",
            "value_known",
            "mutability",
            "persistent",
            "constant",
            "updated_at",
        ],
    )
    # A value that waited for a reboot is now reported as the value: it took effect.
    VariableAttribute.objects.filter(
        variable__in=changed, reboot_required=True, value=F("pending_value")
    ).update(reboot_required=False, pending_value="")
    return len(entries)


def set_value(
    station_id: str,
    address: Address,
    attribute_type: str,
    value: str,
    *,
    pending: bool = False,
) -> Variable:
    """A value the station confirmed (GetVariables, SetVariables Accepted), or accepted to apply
    at its next reboot (`pending`: SetVariables / ChangeConfiguration RebootRequired)."""
    variable = variables(station_id, [address])[address]
    now = utcnow()
    if pending:
        defaults = {"pending_value": value[:2500], "reboot_required": True, "updated_at": now}
    else:
        defaults = {
            "value": value[:2500],
            "value_known": True,
            "pending_value": "",
            "reboot_required": False,
            "updated_at": now,
        }
    VariableAttribute.objects.update_or_create(
        variable=variable, type=attribute_type, defaults=defaults
    )
    return variable


def prune(report: Report, component_name: str | None = None) -> int:
    """After a complete inventory: remove what the report did not list (only `component_name`'s
    variables for a 1.6 key list). Returns how many variables were removed."""
    stale = Variable.objects.filter(component__station_id=report.station_id).exclude(report=report)
    if component_name is not None:
        stale = stale.filter(component__name=component_name)
    removed, _ = stale.delete()
    Component.objects.filter(station_id=report.station_id, variables__isnull=True).delete()
    return removed


def find(station_id: str, address: Address) -> Variable | None:
    c, v = address.component, address.variable
    return (
        Variable.objects.filter(
            component__station_id=station_id,
            component__name=c.name,
            component__instance=c.instance,
            component__evse_id=c.evse_id,
            component__connector_id=c.connector_id,
            name=v.name,
            instance=v.instance,
        )
        .prefetch_related("attributes")
        .first()
    )


def actual_value(station_id: str, address: Address) -> str | None:
    """The Actual value the CSMS last learned, None if it does not know one."""
    row = (
        VariableAttribute.objects.filter(
            variable__component__station_id=station_id,
            variable__component__name=address.component.name,
            variable__component__instance=address.component.instance,
            variable__component__evse_id=address.component.evse_id,
            variable__component__connector_id=address.component.connector_id,
            variable__name=address.variable.name,
            variable__instance=address.variable.instance,
            type="Actual",
            value_known=True,
        )
        .values_list("value", flat=True)
        .first()
    )
    return row


def address_of(variable: Variable) -> Address:
    c = variable.component
    return Address(
        ComponentRef(c.name, c.instance, c.evse_id, c.connector_id),
        VariableRef(variable.name, variable.instance),
    )
