"""What the dashboard shows of monitoring: open alerts, a station's monitors and recent events."""

from __future__ import annotations

from monitoring.models import Alert, CustomerRequest, StationNotice, VariableMonitor

OPEN_ALERTS_SHOWN = 20


def open_alerts(station_id: str | None = None) -> tuple[list[Alert], int]:
    """(the newest open alerts, how many are open)."""
    alerts = Alert.objects.filter(cleared_at__isnull=True)
    if station_id is not None:
        alerts = alerts.filter(station_id=station_id)
    return list(alerts[:OPEN_ALERTS_SHOWN]), alerts.count()


def monitors(station_id: str) -> list[VariableMonitor]:
    return list(VariableMonitor.objects.filter(station_id=station_id)[:200])


def recent_notices(station_id: str, limit: int = 20) -> list[StationNotice]:
    return list(StationNotice.objects.filter(station_id=station_id)[:limit])


def customer_requests(station_id: str, limit: int = 10) -> list[CustomerRequest]:
    return list(CustomerRequest.objects.filter(station_id=station_id)[:limit])
