"""What every endpoint of the REST API shares: the error format and the permission classes.

Every error is JSON of one shape, whatever raised it:

    {"error_code": 503, "message": "No such Charge Point. [CP_1]", "errors": {...}}

`errors` holds per-field messages for validation failures; other keys may add detail (e.g. the
station's status or the list of valid actions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import NoReverseMatch
from rest_framework import exceptions, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.routers import APIRootView
from rest_framework.views import exception_handler as drf_exception_handler

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ApiError(exceptions.APIException):
    """An error with its own status and extra fields, raised from views and services."""

    def __init__(self, status_code: int, message: str, **extra: Any):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.extra = extra


def error_response(status_code: int, message: str, **extra: Any) -> Response:
    return Response({"error_code": status_code, "message": message, **extra}, status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.message, **exc.extra)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's 500 handling applies
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "error_code": response.status_code,
            "message": "The request is invalid; see errors.",
            "errors": data if isinstance(data, dict) else {"non_field_errors": data},
        }
    else:
        detail = data.get("detail", data) if isinstance(data, dict) else data
        body = {"error_code": response.status_code, "message": str(detail)}
    response.data = body
    return response


class IsStaff(permissions.BasePermission):
    """Operators: the staff users of Django's auth."""

    message = "Only operators (staff users) may do this."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class StaffOrReadOnly(permissions.BasePermission):
    """Any signed-in user may read; only staff may change."""

    message = "Only operators (staff users) may change this."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or request.user.is_staff


def signed_in_user(request: Request) -> User:
    """The request's user, in a view whose permission classes already require signing in."""
    user = request.user
    if not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    return user


# The API root's entries: a name, the URL name, and for a per-object endpoint the path parameters,
# shown as `{placeholders}`. Every app's endpoints, in the order of the README's table.
ROOT_ENDPOINTS: list[tuple[str, str, dict[str, str]]] = [
    ("stations", "station-list", {}),
    ("station", "station-detail", {"pk": "id"}),
    ("station-messages", "station-messages", {"station_id": "id"}),
    ("station-reserve", "station-reserve", {"station_id": "id"}),
    ("station-command", "station-command", {"station_id": "id", "action": "Action"}),
    ("station-rotate-key", "station-rotate-key", {"station_id": "id"}),
    ("station-variables", "station-variables", {"station_id": "id"}),
    ("station-reports", "station-reports", {"station_id": "id"}),
    ("variable-changes", "variable-changes", {}),
    ("station-local-list", "station-local-list", {"station_id": "id"}),
    ("station-local-list-sync", "station-local-list-sync", {"station_id": "id"}),
    ("authorization-lists", "authorization-list-list", {}),
    ("monitors", "monitor-list", {}),
    ("station-events", "station-event-list", {}),
    ("alerts", "alert-list", {}),
    ("customer-requests", "customer-request-list", {}),
    ("display-messages", "display-message-list", {}),
    ("cp_ids", "cp-ids", {}),
    ("transactions", "transaction-list", {}),
    ("id-tokens", "id-token-list", {}),
    ("commands", "command-list", {}),
    ("reservations", "reservation-list", {}),
    ("reservation-cancel", "reservation-cancel", {"pk": "id"}),
    ("schema", "schema", {}),
    ("docs", "api-docs", {}),
]


class ApiRootView(APIRootView):
    """The CSMS REST API: stations, transactions, ID tokens, reservations and OCPP commands.

    Lists are links; per-object endpoints show their path parameters as `{placeholders}`.
    Authentication: a token (`Authorization: Token ...`) or a signed-in session."""

    permission_classes = [permissions.IsAuthenticated]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoints = {}
        for name, url_name, parameters in ROOT_ENDPOINTS:
            # Placeholders survive reversing (and URL quoting) as plain words, then get braces.
            marked = {key: f"__{value}__" for key, value in parameters.items()}
            try:
                url = reverse(url_name, kwargs=marked, request=request, format=kwargs.get("format"))
            except NoReverseMatch:
                continue  # an app that is not installed
            for value in parameters.values():
                url = url.replace(f"__{value}__", "{" + value + "}")
            endpoints[name] = url
        return Response(endpoints)
