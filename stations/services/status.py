"""StatusNotification: the state of each connector, and of the station as a whole (1.6 connector 0)."""

from __future__ import annotations

from datetime import datetime

from stations.events import publish
from stations.models import Connector, Station


def record_connector_status(
    identity: str,
    *,
    evse_id: int,
    connector_id: int,
    status: str,
    error_code: str = "",
    info: str = "",
    vendor_id: str = "",
    vendor_error_code: str = "",
    timestamp: datetime | None = None,
) -> None:
    """Store a connector's status: one UPDATE, or one INSERT the first time it reports."""
    if evse_id == 0:
        Station.objects.filter(pk=identity).update(status=status, error_code=error_code)
        publish("station", id=identity, status=status, error_code=error_code)
        return
    fields = {
        "status": status,
        "error_code": error_code,
        "info": info,
        "vendor_id": vendor_id,
        "vendor_error_code": vendor_error_code,
        "status_at": timestamp,
    }
    updated = Connector.objects.filter(
        station_id=identity, evse_id=evse_id, connector_id=connector_id
    ).update(**fields)
    if not updated:
        Connector.objects.update_or_create(
            station_id=identity, evse_id=evse_id, connector_id=connector_id, defaults=fields
        )
    publish(
        "connector",
        station=identity,
        evse_id=evse_id,
        connector_id=connector_id,
        status=status,
        error_code=error_code,
    )
