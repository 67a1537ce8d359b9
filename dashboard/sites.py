"""The sites page: each site with its circuits (their limits, as a tree) and its stations; the
default site holds every station not placed elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.views import operators_only
from sites import services
from sites.models import Circuit, Placement, Site
from stations.models import Station


@operators_only
def site_list(request: HttpRequest) -> HttpResponse:
    default = services.default_site()
    sites = list(Site.objects.all())
    circuits: dict[int, list[Circuit]] = {}
    for circuit in Circuit.objects.select_related("parent").order_by("name"):
        circuits.setdefault(circuit.site_id, []).append(circuit)
    placed: dict[int, list[Placement]] = {}
    for placement in Placement.objects.select_related("circuit").order_by("station_id"):
        placed.setdefault(placement.site_id, []).append(placement)
    unplaced = Station.objects.exclude(pk__in=Placement.objects.values("station_id")).count()
    rows = [
        {
            "site": site,
            "circuits": _tree(circuits.get(site.pk, [])),
            "placements": placed.get(site.pk, [])[:200],
            "count": len(placed.get(site.pk, [])) + (unplaced if site.pk == default.pk else 0),
        }
        for site in sites
    ]
    return render(
        request, "dashboard/sites.html", {"rows": rows, "unplaced": unplaced, "nav": "sites"}
    )


def _tree(circuits: list[Circuit]) -> list[tuple[int, Circuit]]:
    """(depth, circuit), parents before their children."""
    children: dict[int | None, list[Circuit]] = {}
    for circuit in circuits:
        children.setdefault(circuit.parent_id, []).append(circuit)
    ordered: list[tuple[int, Circuit]] = []

    def walk(parent: int | None, depth: int) -> None:
        for circuit in children.get(parent, []):
            ordered.append((depth, circuit))
            walk(circuit.pk, depth + 1)

    walk(None, 0)
    return ordered
