"""StatusNotification: the state of each connector, and of the station as a whole (1.6 connector 0)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stations.clock import utcnow
from stations.events import publish
from stations.models import Connector, Station
from stations.sql import Upsert, update_fields

_STATUS_FIELDS = ["status", "error_code", "info", "vendor_id", "vendor_error_code", "status_at"]
_KEY = ["station", "evse_id", "connector_id"]
_upsert_connector = Upsert(Connector, [*_KEY, *_STATUS_FIELDS, "updated_at"], unique=_KEY)


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    """A StatusNotification: EVSE 0 (1.6 connector 0) is the station as a whole."""

    evse_id: int
    connector_id: int
    status: str
    error_code: str = ""
    info: str = ""
    vendor_id: str = ""
    vendor_error_code: str = ""
    timestamp: datetime | None = None


def record_connector_status(identity: str, report: ConnectorStatus) -> None:
    """Store a connector's status: one statement, which inserts the row the first time."""
    evse_id, connector_id = report.evse_id, report.connector_id
    status, error_code = report.status, report.error_code
    if evse_id == 0:
        station = Station(pk=identity, status=status, error_code=error_code)
        update_fields(station, ["status", "error_code"])
        publish("station", id=identity, status=status, error_code=error_code)
        return
    _upsert_connector.run(
        [
            (
                identity,
                evse_id,
                connector_id,
                status,
                error_code,
                report.info,
                report.vendor_id,
                report.vendor_error_code,
                report.timestamp,
                utcnow(),
            )
        ]
    )
    publish(
        "connector",
        station=identity,
        evse_id=evse_id,
        connector_id=connector_id,
        status=status,
        error_code=error_code,
    )
