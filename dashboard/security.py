"""The station's security page: its security profile and key, the security events it notified,
and the logs the CSMS asked it for (with the uploaded files). Certificates and firmware join it as
their blocks are built."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from certificates import remote as certificate_commands
from certificates import services as certificate_services
from certificates.models import InstalledCertificate, SigningRequest
from dashboard.views import _refused, _reply, operators_only
from diagnostics.api.views import download
from diagnostics.models import LogRequest
from firmware.models import FirmwareImage, FirmwareUpdate
from monitoring import queries as monitoring
from monitoring.models import SecurityEvent
from stations.models import Station
from stations.remote import verdict
from stations.remote.results import CommandRefused

EVENTS_SHOWN = 50
LOGS_SHOWN = 20
CERTIFICATES_SHOWN = 20


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
            "signed": SigningRequest.objects.filter(station=station)[:CERTIFICATES_SHOWN],
            "updates": FirmwareUpdate.objects.filter(station=station).select_related("image")[:20],
            "images": FirmwareImage.objects.all()[:50],
            "installed": InstalledCertificate.objects.filter(
                station=station, deleted_at__isnull=True
            ),
            "nav": "stations",
        },
    )


@operators_only
def log_file(request: HttpRequest, station_id: str, log_id: int) -> FileResponse:
    """An uploaded log, downloaded by an operator."""
    return download(get_object_or_404(LogRequest, pk=log_id, station_id=station_id))


@require_POST
@operators_only
def renew_certificate(request: HttpRequest, station_id: str) -> HttpResponse:
    """Ask the station for a new CSR (A02): the certificate follows, shown on the page."""
    station = get_object_or_404(Station, pk=station_id)
    kind = request.POST.get("kind") or SigningRequest.Kind.CHARGING_STATION
    try:
        result = async_to_sync(certificate_commands.renew)(
            station.pk, station.protocol, kind, user=request.user, source="dashboard"
        )
    except CommandRefused as error:
        return _reply(request, station, _refused(error), status=400)
    judged = verdict.judge(result, station.pk, "the certificate renewal")
    return _reply(request, station, judged.as_dict(result))


@operators_only
def expiring_certificates(request: HttpRequest) -> HttpResponse:
    """Every station certificate due for renewal (OCPP_CERTIFICATE_RENEW_DAYS), soonest first."""
    due = certificate_services.expiring().select_related("station")[:500]
    return render(request, "dashboard/certificates.html", {"due": due, "nav": "stations"})
