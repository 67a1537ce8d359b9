"""What the dashboard pages show, read in as few queries as the pages need."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from reservations.models import Reservation
from stations.models import Connector, MeterSample, Station, Transaction

FAULTED = "Faulted"


def stations_with_connectors() -> QuerySet[Station]:
    faulted = Connector.objects.filter(station=OuterRef("pk"), status=FAULTED)
    return (
        Station.objects.annotate(has_fault=Exists(faulted))
        .prefetch_related(
            Prefetch("connectors", queryset=Connector.objects.order_by("evse_id", "connector_id"))
        )
        .order_by("id")
    )


def filter_stations(queryset: QuerySet[Station], *, q: str, state: str) -> QuerySet[Station]:
    if q:
        queryset = queryset.filter(
            Q(id__icontains=q) | Q(vendor__icontains=q) | Q(model__icontains=q)
        )
    if state == "connected":
        queryset = queryset.filter(connected=True)
    elif state == "offline":
        queryset = queryset.filter(connected=False)
    elif state == "faulted":
        queryset = queryset.filter(Q(has_fault=True) | Q(status=FAULTED))
    elif state:
        queryset = queryset.filter(connectors__status=state).distinct()
    return queryset


def summary() -> dict[str, Any]:
    """The network at a glance."""
    start_of_day = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    # distinct: the faulted count joins connectors, which repeats each station per connector.
    stations = Station.objects.aggregate(
        total=Count("pk", distinct=True),
        connected=Count("pk", filter=Q(connected=True), distinct=True),
        faulted=Count(
            "pk", filter=Q(status=FAULTED) | Q(connectors__status=FAULTED), distinct=True
        ),
    )
    connectors = dict(
        Connector.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    transactions = Transaction.objects.aggregate(
        active=Count("pk", filter=Q(is_active=True)),
        flagged=Count("pk", filter=Q(is_active=True, flagged_at__isnull=False)),
        energy_today=Sum("energy_wh", filter=Q(started_at__gte=start_of_day)),
    )
    return {
        "stations": stations["total"],
        "connected": stations["connected"],
        "offline": stations["total"] - stations["connected"],
        "faulted": stations["faulted"],
        "connectors": dict(sorted(connectors.items())),
        "active_transactions": transactions["active"],
        "flagged_transactions": transactions["flagged"],
        "energy_today_kwh": round((transactions["energy_today"] or 0) / 1000, 2),
    }


def meter_series(transaction: Transaction) -> dict[str, list[list]]:
    """Energy (kWh) and power (kW) over the session, as [ISO time, value] points for the chart."""
    energy, power = [], []
    samples = MeterSample.objects.filter(
        transaction=transaction,
        measurand__in=("Energy.Active.Import.Register", "Power.Active.Import"),
    ).values_list("timestamp", "measurand", "unit", "value")
    start = transaction.meter_start_wh or 0
    for timestamp, measurand, unit, value in samples.order_by("timestamp", "id"):
        when = timestamp.isoformat()
        factor = 1000.0 if unit.startswith("k") else 1.0
        if measurand == "Power.Active.Import":
            power.append([when, round(value * factor / 1000, 3)])
        else:
            energy.append([when, round((value * factor - start) / 1000, 3)])
    return {"energy": energy, "power": power}


def active_reservations(station: Station) -> QuerySet[Reservation]:
    return station.reservations.select_related("user").order_by("-created_at")[:20]


def latest_power_kw(transactions: list[Transaction]) -> dict[int, float]:
    """The last reported power (kW) of each open session, as its live card shows it."""
    power = {}
    for tx in transactions:
        sample = (
            MeterSample.objects.filter(transaction=tx, measurand="Power.Active.Import")
            .order_by("-timestamp", "-id")
            .values_list("value", "unit")
            .first()
        )
        if sample is not None:
            value, unit = sample
            power[tx.pk] = round(value * (1000.0 if unit.startswith("k") else 1.0) / 1000, 3)
    return power
