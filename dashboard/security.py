"""The station's security page: its security profile and key, the security events it notified,
and the logs the CSMS asked it for (with the uploaded files). Certificates and firmware join it as
their blocks are built."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from dashboard.views import operators_only
from diagnostics.api.views import download
from diagnostics.models import LogRequest
from monitoring import queries as monitoring
from monitoring.models import SecurityEvent
from stations.models import Station

EVENTS_SHOWN = 50
LOGS_SHOWN = 20


@operators_only
def station_security(request: HttpRequest, station_id: str) -> HttpResponse:
    station = get_object_or_404(Station, pk=station_id)
    alerts, alert_count = monitoring.open_alerts(station.pk)
    return render(
        request,
        "dashboard/security.html",
        {
            "station": station,
            "alerts": alerts,
            "alert_count": alert_count,
            "events": SecurityEvent.objects.filter(station=station)[:EVENTS_SHOWN],
            "logs": LogRequest.objects.filter(station=station).select_related("requested_by")[
                :LOGS_SHOWN
            ],
            "nav": "stations",
        },
    )


@operators_only
def log_file(request: HttpRequest, station_id: str, log_id: int) -> FileResponse:
    """An uploaded log, downloaded by an operator."""
    return download(get_object_or_404(LogRequest, pk=log_id, station_id=station_id))
