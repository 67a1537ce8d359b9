"""What every endpoint of the REST API shares: the error format and the permission classes.

Every error is JSON of one shape, whatever raised it:

    {"error_code": 503, "message": "No such Charge Point. [CP_1]", "errors": {...}}

`errors` holds per-field messages for validation failures; other keys may add detail (e.g. the
station's status or the list of valid actions).
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


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
