"""The operator dashboard: server-rendered pages, kept live by `static/dashboard/live.js`.

Every page is for operators (staff); drivers use the REST API. Buttons post to `station_action`,
which goes through the same services as the REST API and answers with what the station said.
"""

from __future__ import annotations

import json
from functools import wraps

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from dashboard import queries
from dashboard.actions import ActionError, command_for, form_int, reservation_request
from reservations import services as reservation_services
from reservations.models import Reservation
from stations.commands import CommandRefused, CommandResult, Outcome, send_command_from_thread
from stations.models import Connector, MessageLog, Station, Transaction

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
    return render(
        request,
        "dashboard/overview.html",
        {"summary": queries.summary(), "stations": stations, "nav": "overview"},
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


@operators_only
def station_detail(request: HttpRequest, station_id: str) -> HttpResponse:
    station = get_object_or_404(Station, pk=station_id)
    active = list(station.transactions.filter(is_active=True).order_by("-started_at"))
    charting = active[0] if active else station.transactions.order_by("-started_at").first()
    return render(
        request,
        "dashboard/station.html",
        {
            "station": station,
            "connectors": Connector.objects.filter(station=station).order_by("evse_id"),
            "active": active,
            "charting": charting,
            "series": queries.meter_series(charting) if charting else {"energy": [], "power": []},
            "recent": station.transactions.order_by("-started_at")[:10],
            "reservations": queries.active_reservations(station),
            "messages": MessageLog.objects.filter(station_id=station.pk)[:50],
            "nav": "stations",
        },
    )


@operators_only
def transaction_list(request: HttpRequest) -> HttpResponse:
    transactions = Transaction.objects.select_related("station").order_by("-started_at")
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


def _answer(result: CommandResult, station_id: str, what: str) -> JsonResponse:
    if result.outcome == Outcome.ANSWERED:
        message = f"{station_id} answered {what}: {json.dumps(result.payload)}"
    elif result.outcome == Outcome.TIMEOUT:
        message = f"{station_id} did not answer {what} within {settings.OCPP_CALL_TIMEOUT:g} s"
    elif result.outcome == Outcome.NOT_CONNECTED:
        message = f"{station_id} is not connected"
    elif result.outcome == Outcome.CALL_ERROR:
        message = f"{station_id} refused {what}: {result.error_code} {result.description}"
    else:
        message = f"{station_id} answered {what} with an invalid payload"
    return JsonResponse(
        {
            "ok": result.outcome == Outcome.ANSWERED,
            "outcome": result.outcome,
            "answer": result.payload,
            "message": message,
        }
    )


@require_POST
@operators_only
def station_action(request: HttpRequest, station_id: str, action: str) -> JsonResponse:
    station = get_object_or_404(Station, pk=station_id)
    form = request.POST
    try:
        if action == "reserve":
            result = async_to_sync(reservation_services.reserve)(
                user=request.user, station_id=station.pk, **reservation_request(form)
            )
            return _answer(result.command, station.pk, f"ReserveNow #{result.reservation.pk}")
        if action == "cancel-reservation":
            reservation = get_object_or_404(
                Reservation, pk=form_int(form, "reservation_id"), station=station
            )
            result = async_to_sync(reservation_services.cancel)(reservation, user=request.user)
            return _answer(result.command, station.pk, f"CancelReservation #{reservation.pk}")
        ocpp_action, payload = command_for(action, station.protocol or "2.0.1", dict(form.items()))
        result = send_command_from_thread(
            station.pk, ocpp_action, payload, requested_by=request.user, source="dashboard"
        )
        return _answer(result, station.pk, ocpp_action)
    except (ActionError, CommandRefused) as error:
        return JsonResponse({"ok": False, "outcome": "refused", "message": str(error)}, status=400)
    except (
        reservation_services.NothingAvailable,
        reservation_services.ReservationConflict,
    ) as error:
        return JsonResponse({"ok": False, "outcome": "refused", "message": str(error)}, status=409)
