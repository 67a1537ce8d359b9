from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from devicemodel.models import Mutability, Report, Variable, VariableChange


class VariableFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Component or variable name contains")
    component = django_filters.CharFilter(field_name="component__name")
    evse_id = django_filters.NumberFilter(field_name="component__evse_id")
    mutability = django_filters.ChoiceFilter(
        field_name="attributes__mutability", choices=Mutability.choices, distinct=True
    )
    reboot_required = django_filters.BooleanFilter(
        field_name="attributes__reboot_required", distinct=True
    )

    class Meta:
        model = Variable
        fields = ["name", "data_type", "supports_monitoring"]

    def search(self, queryset: QuerySet[Variable], name: str, value: str) -> QuerySet[Variable]:
        return queryset.filter(
            Q(name__icontains=value)
            | Q(component__name__icontains=value)
            | Q(instance__icontains=value)
            | Q(component__instance__icontains=value)
        )


class ReportFilter(django_filters.FilterSet):
    class Meta:
        model = Report
        fields = ["kind", "status", "request_id"]


class VariableChangeFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station_id")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = VariableChange
        fields = ["status", "source"]
