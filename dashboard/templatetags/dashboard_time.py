"""Times on the dashboard: one zone (settings.TIME_ZONE), always labelled with its abbreviation.

Every time the operator sees is rendered here, on the server, including the rows that arrive live
(live.js re-fetches server-rendered regions instead of formatting times itself), so a page shows the
same zone and the same words before and after a reload, whatever the browser's own zone.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.conf import settings
from django.utils import timezone

register = template.Library()

FORMATS = {
    "datetime": "%Y-%m-%d %H:%M:%S",
    "time": "%H:%M:%S",
    "minutes": "%H:%M",
    "ms": "%H:%M:%S.%f",
}


@register.filter
def when(value: datetime | None, style: str = "datetime") -> str:
    """`2026-01-18 17:30:05 IST`; styles: datetime, time, minutes, ms (milliseconds)."""
    if not value:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    text = local.strftime(FORMATS[style])
    if style == "ms":
        text = text[:-3]  # microseconds to milliseconds
    return f"{text} {local.tzname() or settings.TIME_ZONE}"


@register.simple_tag
def time_zone() -> str:
    """The zone every dashboard time is shown in, e.g. `Asia/Kolkata`."""
    return str(timezone.get_current_timezone())
