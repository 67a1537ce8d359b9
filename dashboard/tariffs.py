"""The tariffs page: each tariff with its prices, what drivers see, where it applies (its sites
and stations, or the whole network), and the latest priced sessions with the billing export."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.views import operators_only
from stations.models import Transaction
from tariffs.models import Tariff, TariffAssignment
from tariffs.pricing import describe

RECENT = 50


@operators_only
def tariff_list(request: HttpRequest) -> HttpResponse:
    assignments: dict[int, list[TariffAssignment]] = {}
    for assignment in TariffAssignment.objects.select_related("site").order_by(
        "site__name", "station_id"
    ):
        assignments.setdefault(assignment.tariff_id, []).append(assignment)
    rows = [
        {
            "tariff": tariff,
            "shown_as": tariff.display_text or describe(tariff.prices),
            "sites": [a.site for a in assignments.get(tariff.pk, []) if a.site is not None],
            "stations": [a.station_id for a in assignments.get(tariff.pk, []) if a.station_id],
        }
        for tariff in Tariff.objects.all()
    ]
    recent = (
        Transaction.objects.filter(cost__isnull=False)
        .select_related("cost", "cost__tariff")
        .order_by("-started_at")[:RECENT]
    )
    return render(
        request,
        "dashboard/tariffs.html",
        {"rows": rows, "recent": recent, "nav": "tariffs"},
    )
