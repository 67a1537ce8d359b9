"""Query filters of the station API, and the one definition of an "available" station.

A station is available when a driver could start charging there now: it is connected, the operator
has accepted it, and at least one of its connectors reports "Available". The list shows it and the
`available` filter selects by it, so both read the same annotation (`with_availability`) rather
than two implementations that could drift apart.
"""

from __future__ import annotations

import django_filters
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

from stations.models import (
    Command,
    Connector,
    IdToken,
    MessageLog,
    Protocol,
    RegistrationStatus,
    Station,
    Transaction,
)

AVAILABLE_STATUS = "Available"


def _has_connector(status: str) -> Exists:
    return Exists(Connector.objects.filter(station=OuterRef("pk"), status=status))


def with_availability(queryset: QuerySet[Station]) -> QuerySet[Station]:
    """Annotate `available`, computed in the database so it can be filtered on and paginated."""
    return queryset.annotate(
        available=ExpressionWrapper(
            Q(connected=True)
            & Q(registration_status=RegistrationStatus.ACCEPTED)
            & Q(_has_connector(AVAILABLE_STATUS)),
            output_field=BooleanField(),
        )
    )


class StationFilter(django_filters.FilterSet):
    connected = django_filters.BooleanFilter()
    registration_status = django_filters.ChoiceFilter(choices=RegistrationStatus.choices)
    protocol = django_filters.ChoiceFilter(choices=Protocol.choices)
    # A subquery rather than a join: a station with several matching connectors is listed once,
    # without a DISTINCT over the whole row.
    status = django_filters.CharFilter(
        method="filter_connector_status",
        label="Has at least one connector in this status (e.g. Available, Charging, Faulted)",
    )
    available = django_filters.BooleanFilter(
        label="Connected, Accepted and with at least one Available connector"
    )

    class Meta:
        model = Station
        fields = ["connected", "registration_status", "protocol", "status", "available"]

    def filter_connector_status(
        self, queryset: QuerySet[Station], name: str, value: str
    ) -> QuerySet[Station]:
        return queryset.filter(_has_connector(value))


class TransactionFilter(django_filters.FilterSet):
    # By identity string, not a model choice: no query to validate it, and an unknown station is
    # simply an empty list.
    station = django_filters.CharFilter(field_name="station_id")
    active = django_filters.BooleanFilter(field_name="is_active")
    flagged = django_filters.BooleanFilter(
        field_name="flagged_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="Open transactions flagged for the operator (the station rebooted or went away).",
    )
    id_token = django_filters.CharFilter()

    class Meta:
        model = Transaction
        fields = ["station", "active", "flagged", "id_token"]


class IdTokenFilter(django_filters.FilterSet):
    class Meta:
        model = IdToken
        fields = ["status", "user"]


class MessageLogFilter(django_filters.FilterSet):
    class Meta:
        model = MessageLog
        fields = ["direction", "action"]


class CommandFilter(django_filters.FilterSet):
    class Meta:
        model = Command
        fields = ["station_id", "action", "outcome"]
