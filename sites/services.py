"""Sites, circuits and where stations are: the default site, a station's site (the default one
when it was never placed), placing a station, and a circuit's tree."""

from __future__ import annotations

from sites.models import DEFAULT_SITE, Circuit, Placement, Site


def default_site() -> Site:
    site, _ = Site.objects.get_or_create(is_default=True, defaults={"name": DEFAULT_SITE})
    return site


def site_of(station_id: str) -> Site:
    placement = Placement.objects.select_related("site").filter(station_id=station_id).first()
    return placement.site if placement is not None else default_site()


def place(
    station_id: str, site: Site, circuit: Circuit | None = None, priority: int = 0
) -> Placement:
    placement = Placement(station_id=station_id, site=site, circuit=circuit, priority=priority)
    placement.full_clean(exclude=["station"])
    placement.save()
    return placement


def below(circuit: Circuit) -> list[Circuit]:
    """The circuit and every circuit under it, parents before children."""
    found, queue = [], [circuit]
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(current.children.all())
    return found
