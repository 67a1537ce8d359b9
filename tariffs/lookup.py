"""The tariff text a station shows drivers (I01), kept in memory: an Authorize is answered
without a query for it. Entries live 30 seconds at most and are dropped when this
process saves a tariff or an assignment (another worker's change is seen within that time)."""

from __future__ import annotations

import time
from typing import Any

from django.db.models.signals import post_delete, post_save

from stations import db
from tariffs import services
from tariffs.models import Tariff, TariffAssignment

TTL_SECONDS = 30.0
_texts: dict[str, tuple[float, str]] = {}


async def tariff_text(station_id: str) -> str:
    now = time.monotonic()
    cached = _texts.get(station_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    text = await db.read(services.display_text, station_id)
    if len(_texts) > 100_000:
        _texts.clear()
    _texts[station_id] = (now + TTL_SECONDS, text)
    return text


def forget(**_: Any) -> None:
    _texts.clear()


for model in (Tariff, TariffAssignment):
    post_save.connect(forget, sender=model, dispatch_uid=f"tariff-text-{model.__name__}-save")
    post_delete.connect(forget, sender=model, dispatch_uid=f"tariff-text-{model.__name__}-del")
