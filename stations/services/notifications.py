"""Messages a station sends for the record: DataTransfer, firmware/diagnostics/log status, security
events, device-model reports and events. Each is kept as a StationEvent an operator can search."""

from __future__ import annotations

from typing import Any

from stations.models import StationEvent


def station_event(
    identity: str, *, kind: str, type: str, message: str = "", data: dict[str, Any] | None = None
) -> None:
    StationEvent.objects.create(
        station_id=identity, kind=kind, type=type[:64], message=message, data=data or {}
    )
