"""The station page's command forms, drawn from the command catalog (`stations.remote.catalog`).

`{% command_forms station active %}` renders one form per button of every command the station's
OCPP version has (a station that never connected: the commands both versions have), with the controls its input declares (`stations.remote.forms`). A command
declared with a typed input appears here without a template change; the form posts to
`station_action`, which reads it back with the same declaration.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from stations.models import Station
from stations.remote.catalog import VERSIONS, specs

register = template.Library()


@register.inclusion_tag("dashboard/_command_forms.html")
def command_forms(station: Station, active: Any = (), only: str = "") -> dict[str, Any]:
    """Every command of the station page; `only` (names, comma-separated): just those, wherever
    their declaration puts them (a page of their own: the security page's GetLog)."""
    page = {"station": station, "active": active}
    forms = []
    versions = [station.protocol] if station.protocol else list(VERSIONS)
    chosen = {name.strip() for name in only.split(",") if name.strip()}
    for spec in specs():
        if chosen and spec.name not in chosen:
            continue
        if spec.input is None or any(spec.action(v) is None for v in versions):
            continue
        url = reverse("dashboard:station-action", args=[station.pk, spec.name])
        for button in spec.page_buttons(anywhere=bool(chosen)):
            forms.append(
                {
                    "name": spec.name,
                    "url": url,
                    "button": button,
                    "preset": sorted(button.preset.items()),
                    "controls": [f.control(page) for f in spec.input.fields]
                    if button.fields
                    else [],
                }
            )
    return {"forms": forms}
