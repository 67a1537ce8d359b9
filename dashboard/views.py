"""The operator dashboard: server-rendered pages, kept live by `static/dashboard/live.js`.

Every page is for operators (staff); drivers use the REST API. Buttons post to `station_action`,
which goes through the same services as the REST API and answers with what the station said.
"""

from __future__ import annotations

from functools import wraps

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dashboard import queries
from devicemodel import queries as configuration
from displays.models import DisplayMessage
from locallists.models import StationList
from monitoring import queries as monitoring
from monitoring import services as monitoring_services
from monitoring.models import Alert
from reservations import services as reservation_services
from reservations.models import Reservation
from smartcharging.models import ChargingNeeds, ChargingProfile, CompositeSchedule, ExternalLimit
from stations import keys
from stations.models import Connector, MessageLog, Station, Transaction
from stations.remote import verdict
from stations.remote.catalog import InputError, NotFound, spec_named
from stations.remote.delivery import Route
from stations.remote.operator import perform_from_thread
from stations.remote.results import CommandRefused
from tariffs import services as tariff_services
from tariffs.pricing import describe

CONNECTOR_STATUSES = [
    "Available",
    "Preparing",
    "Charging",
    "Occupied",
    "SuspendedEV",
    "SuspendedEVSE",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
]


def operators_only(view):
    """Signed in (else the login page), and staff (else 403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("The dashboard is for operators.")
        return view(request, *args, **kwargs)

    return wrapper


def _page(request: HttpRequest, queryset, size: int = 50):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


@operators_only
def overview(request: HttpRequest) -> HttpResponse:
    stations = queries.stations_with_connectors()[:50]
    alerts, alert_count = monitoring.open_alerts()
    return render(
        request,
        "dashboard/overview.html",
        {
            "summary": queries.summary(),
            "stations": stations,
            "alerts": alerts,
            "alert_count": alert_count,
            "nav": "overview",
        },
    )


@operators_only
def summary(request: HttpRequest) -> JsonResponse:
    return JsonResponse(queries.summary())


@operators_only
def station_list(request: HttpRequest) -> HttpResponse:
    q, state = request.GET.get("q", "").strip(), request.GET.get("state", "")
    stations = queries.filter_stations(queries.stations_with_connectors(), q=q, state=state)
    return render(
        request,
        "dashboard/stations.html",
        {
            "page": _page(request, stations, 100),
            "q": q,
            "state": state,
            "statuses": CONNECTOR_STATUSES,
            "nav": "stations",
        },
    )


def _refresh_delay_ms() -> int:
    """How long live.js waits after an event before re-rendering a station page: long enough for
    the frames behind the event to be in the message log (written every
    OCPP_MESSAGE_LOG_FLUSH_SECONDS)."""
    return max(300, int(settings.OCPP_MESSAGE_LOG_FLUSH_SECONDS * 1000) + 150)


@operators_only
def station_detail(request: HttpRequest, station_id: str) -> HttpResponse:
    station = get_object_or_404(Station, pk=station_id)
    active = list(
        station.transactions.filter(is_active=True).select_related("cost").order_by("-started_at")
    )
    power = queries.latest_power_kw(active)
    for tx in active:
        tx.power_kw = power.get(tx.pk)
    charting = active[0] if active else station.transactions.order_by("-started_at").first()
    # live.js re-fetches this page after each event and says which session its chart shows: the
    # series is sent again only when the chart must switch to another session.
    charted = request.headers.get("X-Live-Charting")
    if charted is not None and charted == str(charting.pk if charting else ""):
        series = None
    else:
        series = queries.meter_series(charting) if charting else {"energy": [], "power": []}
    response = render(
        request,
        "dashboard/station.html",
        {
            "station": station,
            "connectors": Connector.objects.filter(station=station).order_by("evse_id"),
            "active": active,
            "charting": charting,
            "series": series,
            "recent": station.transactions.select_related("cost").order_by("-started_at")[:10],
            **station_tariff(station),
            "reservations": queries.active_reservations(station),
            "messages": MessageLog.objects.filter(station_id=station.pk)[:50],
            "local_list": StationList.objects.filter(station=station)
            .select_related("list")
            .first(),
            **smart_charging(station),
            "refresh_delay_ms": _refresh_delay_ms(),
            "nav": "stations",
        },
    )
    patch_vary_headers(response, ["X-Live-Charting"])
    return response


def station_tariff(station: Station) -> dict:
    tariff = tariff_services.tariff_for(station.pk)
    text = (tariff.display_text or describe(tariff.prices)) if tariff else ""
    return {"tariff": tariff, "tariff_text": text}


def smart_charging(station: Station) -> dict:
    """The station's installed and sent profiles, its latest composite schedule, the external
    limits in force, and the latest EV charging needs."""
    composite = CompositeSchedule.objects.filter(station=station).first()
    if composite is not None and composite.schedule:
        schedule = composite.schedule
        inner = (
            schedule.get("chargingSchedule")
            if isinstance(schedule.get("chargingSchedule"), dict)
            else schedule
        )
        composite.periods = inner.get("chargingSchedulePeriod") or []  # type: ignore[attr-defined]
        composite.unit_shown = inner.get("chargingRateUnit") or composite.unit  # type: ignore[attr-defined]
    return {
        "profiles": ChargingProfile.objects.filter(station=station).exclude(state="cleared")[:50],
        "composite": composite,
        "limits": ExternalLimit.objects.filter(station=station, cleared_at__isnull=True)[:10],
        "needs": ChargingNeeds.objects.filter(station=station).first(),
    }


@operators_only
def station_configuration(request: HttpRequest, station_id: str) -> HttpResponse:
    """The station's configuration: its device model (2.0.1) or configuration keys (1.6), with
    search, each value editable where the station allows it, reboot-required flags, its reports
    and the history of changes."""
    station = get_object_or_404(Station, pk=station_id)
    search = request.GET.get("q", "").strip()[:100]
    groups, total, cut = configuration.tree(station.pk, search)
    alerts, alert_count = monitoring.open_alerts(station.pk)
    return render(
        request,
        "dashboard/configuration.html",
        {
            "station": station,
            "groups": groups,
            "total": total,
            "cut": cut,
            "limit": configuration.PAGE_LIMIT,
            "search": search,
            "reports": configuration.recent_reports(station.pk),
            "changes": configuration.recent_changes(station.pk),
            "pending_reboot": configuration.pending_reboot(station.pk),
            "alerts": alerts,
            "alert_count": alert_count,
            "monitors": monitoring.monitors(station.pk),
            "notices": monitoring.recent_notices(station.pk),
            "customers": monitoring.customer_requests(station.pk),
            "displays": DisplayMessage.objects.filter(station=station).order_by(
                "-active", "message_id"
            )[:100],
            "is_16": station.protocol == "1.6",
            "nav": "stations",
        },
    )


@operators_only
def transaction_list(request: HttpRequest) -> HttpResponse:
    transactions = Transaction.objects.select_related("station", "cost").order_by("-started_at")
    station, active = request.GET.get("station", "").strip(), request.GET.get("active", "")
    if station:
        transactions = transactions.filter(station_id=station)
    if active in ("yes", "no"):
        transactions = transactions.filter(is_active=active == "yes")
    elif active == "flagged":
        transactions = transactions.filter(is_active=True, flagged_at__isnull=False)
    return render(
        request,
        "dashboard/transactions.html",
        {
            "page": _page(request, transactions),
            "station": station,
            "active": active,
            "nav": "transactions",
        },
    )


@operators_only
def reservation_list(request: HttpRequest) -> HttpResponse:
    reservation_services.reservation_expire_due()
    reservations = Reservation.objects.select_related("user").order_by("-created_at")
    station, status = request.GET.get("station", "").strip(), request.GET.get("status", "")
    if station:
        reservations = reservations.filter(station_id=station)
    if status:
        reservations = reservations.filter(status=status)
    return render(
        request,
        "dashboard/reservations.html",
        {
            "page": _page(request, reservations),
            "station": station,
            "status": status,
            "statuses": Reservation.Status.values,
            "nav": "reservations",
        },
    )


def _reply(request: HttpRequest, station: Station, body: dict, status: int = 200) -> HttpResponse:
    """JSON for live.js; a small page for a form posted without JavaScript."""
    if request.get_preferred_type(["application/json", "text/html"]) == "text/html":
        return render(
            request,
            "dashboard/action_result.html",
            {"station": station, "result": body, "nav": "stations"},
            status=status,
        )
    return JsonResponse(body, status=status)


def _refused(error: Exception) -> dict:
    return {"ok": False, "level": "error", "outcome": "refused", "message": str(error)}


@require_POST
@operators_only
def station_action(request: HttpRequest, station_id: str, action: str) -> HttpResponse:
    """A button: the command its declaration names (`stations.remote.catalog`), the operator's
    form read into its typed input, the station's answer judged by `verdict.judge`."""
    station = get_object_or_404(Station, pk=station_id)
    where = Route(station.pk, station.protocol, station.channel_name if station.connected else "")
    try:
        spec = spec_named(action)
        value = spec.read(request.POST)
        if spec.confirm is not None and (warning := spec.confirm(value, request.POST)):
            raise InputError(warning)
        what, result = perform_from_thread(
            spec, value, where, user=request.user, source="dashboard"
        )
        return _reply(request, station, verdict.judge(result, station.pk, what).as_dict(result))
    except NotFound as error:
        return _reply(request, station, _refused(error), status=404)
    except (InputError, CommandRefused) as error:
        return _reply(request, station, _refused(error), status=400)
    except (
        reservation_services.NothingAvailable,
        reservation_services.ReservationConflict,
    ) as error:
        return _reply(request, station, _refused(error), status=409)


@require_POST
@operators_only
def alert_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    """An operator closes an alert the station will not clear itself; back to where they were."""
    alert = get_object_or_404(Alert, pk=alert_id)
    monitoring_services.acknowledge(alert.pk, request.user)
    back = request.POST.get("next") or request.headers.get("Referer") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("dashboard:overview")
    return redirect(back)


@require_POST
@operators_only
def station_rotate_key(request: HttpRequest, station_id: str) -> HttpResponse:
    """A new Basic-auth key for the station (stations/keys.py); the page shows it once."""
    station = get_object_or_404(Station, pk=station_id)
    try:
        rotation = async_to_sync(keys.rotate)(station.pk, user=request.user, source="dashboard")
    except (InputError, CommandRefused) as error:
        return _reply(request, station, _refused(error), status=400)
    result = rotation.result
    if rotation.pending:
        body = {
            "ok": True,
            "level": "ok",
            "outcome": result.outcome,
            "message": (
                f"{station.pk} has a new key: {rotation.key} (shown once). The old key works "
                "until the station connects with the new one."
            ),
        }
        return _reply(request, station, body)
    return _reply(
        request, station, verdict.judge(result, station.pk, "the key rotation").as_dict(result)
    )
