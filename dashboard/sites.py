"""The sites page: each site with its circuits (their limits, as a tree, and the load under each
now, live) and its stations; the default site holds every station not placed elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.views import operators_only
from sites import services
from sites.models import Circuit, Placement, Site
from stations.models import MeterSample, Station, Transaction


@dataclass(frozen=True)
class Load:
    """What the sessions under a circuit draw now (their latest reported power) against its
    limit."""

    watts: float
    limit_w: float
    sessions: int

    @property
    def percent(self) -> float:
        return 100 * self.watts / self.limit_w if self.limit_w else 0.0

    @property
    def over(self) -> bool:
        return self.watts > self.limit_w


def circuit_loads(circuits: list[Circuit]) -> dict[int, Load]:
    """Each circuit's load: the latest Power.Active.Import of every active session on a station
    placed under it (its own or a child circuit's)."""
    placed = dict(
        Placement.objects.filter(circuit__isnull=False).values_list("station_id", "circuit_id")
    )
    latest = MeterSample.objects.filter(
        transaction=OuterRef("pk"), measurand="Power.Active.Import"
    ).order_by("-timestamp", "-pk")
    sessions = (
        Transaction.objects.filter(is_active=True, station_id__in=placed)
        .annotate(power=Subquery(latest.values("value")[:1]))
        .values_list("station_id", "power")
    )
    parents = {c.pk: c.parent_id for c in circuits}
    watts: dict[int, float] = dict.fromkeys(parents, 0.0)
    counts: dict[int, int] = dict.fromkeys(parents, 0)
    for station_id, power in sessions:
        node: int | None = placed[station_id]
        while node is not None and node in parents:
            watts[node] += power or 0.0
            counts[node] += 1
            node = parents[node]
    return {c.pk: Load(watts[c.pk], c.limit_w_effective, counts[c.pk]) for c in circuits}


@operators_only
def site_list(request: HttpRequest) -> HttpResponse:
    default = services.default_site()
    sites = list(Site.objects.all())
    circuits: dict[int, list[Circuit]] = {}
    every = list(Circuit.objects.select_related("parent").order_by("name"))
    for circuit in every:
        circuits.setdefault(circuit.site_id, []).append(circuit)
    loads = circuit_loads(every)
    placed: dict[int, list[Placement]] = {}
    for placement in Placement.objects.select_related("circuit").order_by("station_id"):
        placed.setdefault(placement.site_id, []).append(placement)
    unplaced = Station.objects.exclude(pk__in=Placement.objects.values("station_id")).count()
    rows = [
        {
            "site": site,
            "circuits": [
                (depth, circuit, loads[circuit.pk])
                for depth, circuit in _tree(circuits.get(site.pk, []))
            ],
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
