"""What the configuration page shows: a station's components and their variables (searchable), its
recent reports and changes. Read-only, a few queries whatever the size of the model."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, Q

from devicemodel.inventory import address_of
from devicemodel.models import (
    OCPP16_COMPONENT,
    Component,
    Mutability,
    Report,
    Variable,
    VariableAttribute,
    VariableChange,
)

# The most variables the page lists at once (a search narrows it).
PAGE_LIMIT = 1000


@dataclass
class Row:
    variable: Variable
    address: str
    actual: VariableAttribute | None
    others: list[VariableAttribute]

    @property
    def editable(self) -> bool:
        return self.actual is not None and self.actual.mutability != Mutability.READ_ONLY

    @property
    def reboot_required(self) -> bool:
        return any(
            a.reboot_required for a in [*([self.actual] if self.actual else []), *self.others]
        )


@dataclass
class Group:
    component: Component
    rows: list[Row] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.component.name == OCPP16_COMPONENT:
            return "Configuration keys (OCPP 1.6)"
        return str(self.component)


def tree(station_id: str, search: str = "") -> tuple[list[Group], int, bool]:
    """(groups of rows, variables matched, whether the list was cut at PAGE_LIMIT)."""
    variables = Variable.objects.filter(component__station_id=station_id)
    if search:
        variables = variables.filter(
            Q(name__icontains=search)
            | Q(instance__icontains=search)
            | Q(component__name__icontains=search)
            | Q(component__instance__icontains=search)
        )
    total = variables.count()
    rows = (
        variables.select_related("component")
        .prefetch_related(Prefetch("attributes", VariableAttribute.objects.order_by("type")))
        .order_by(
            "component__name",
            "component__instance",
            "component__evse_id",
            "component__connector_id",
            "name",
            "instance",
        )[:PAGE_LIMIT]
    )
    groups: dict[int, Group] = {}
    for variable in rows:
        group = groups.setdefault(variable.component_id, Group(variable.component))
        attributes = list(variable.attributes.all())
        actual = next((a for a in attributes if a.type == "Actual"), None)
        group.rows.append(
            Row(
                variable,
                str(address_of(variable)),
                actual,
                [a for a in attributes if a is not actual],
            )
        )
    return list(groups.values()), total, total > PAGE_LIMIT


def recent_reports(station_id: str, limit: int = 5) -> list[Report]:
    return list(Report.objects.filter(station_id=station_id)[:limit])


def recent_changes(station_id: str, limit: int = 20) -> list[VariableChange]:
    return list(
        VariableChange.objects.filter(station_id=station_id).select_related("requested_by")[:limit]
    )


def pending_reboot(station_id: str) -> int:
    """How many values wait for the station's next reboot."""
    return VariableAttribute.objects.filter(
        variable__component__station_id=station_id, reboot_required=True
    ).count()
