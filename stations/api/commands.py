"""POST /api/stations/<id>/commands/<Action>/: any OCPP command, to a station on any worker.

The body is the OCPP payload itself. The answer is the station's response payload (200); a CALLERROR
is a 502 carrying its code and description; not connected is 503; no answer in time is 504; an action
the station's version does not have is 404 with the valid ones; a payload that breaks the action's
schema is 400 and is never sent. `?timeout=SECONDS` overrides OCPP_CALL_TIMEOUT for this one call.

GET on the same URL answers the default payload for that action and station (what
`manage.py ocpp_command` sends when given none), without sending anything.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from csms_site.api import ApiError, IsStaff
from stations.command_defaults import NoDefaultPayload, default_payload
from stations.commands import (
    CSMS_ACTIONS,
    CommandRefused,
    CommandResult,
    Outcome,
    send_command_from_thread,
)
from stations.models import Station


def command_response(result: CommandResult, station_id: str) -> Response:
    """The HTTP answer for a command's outcome (shared by every view that sends one)."""
    if result.outcome == Outcome.ANSWERED:
        return Response(result.payload)
    if result.outcome == Outcome.NOT_CONNECTED:
        raise ApiError(503, f"No such Charge Point. [{station_id}]")
    if result.outcome == Outcome.TIMEOUT:
        raise ApiError(504, f"{station_id} did not answer in time.", duration_ms=result.duration_ms)
    if result.outcome == Outcome.CALL_ERROR:
        raise ApiError(
            502,
            f"{station_id} answered with CALLERROR {result.error_code}: {result.description}",
            ocpp_error_code=result.error_code,
            ocpp_error_description=result.description,
            ocpp_error_details=result.details,
        )
    raise ApiError(
        502,
        f"{station_id} answered with an invalid payload: {result.description}",
        station_payload=result.payload,
    )


def send_or_raise(
    station_id: str,
    action: str,
    payload: dict[str, Any],
    request: Request,
    source: str = "api",
    timeout: float | None = None,
) -> CommandResult:
    """Send from a synchronous view; refusals become 400 / 404 API errors."""
    try:
        return send_command_from_thread(
            station_id, action, payload, timeout=timeout, requested_by=request.user, source=source
        )
    except CommandRefused as refused:
        if refused.valid_actions:
            raise ApiError(
                404, refused.message, valid_actions=list(refused.valid_actions)
            ) from None
        raise ApiError(400, refused.message) from None


MAX_TIMEOUT_SECONDS = 300.0
# NoDefaultPayload speaks to the shell ("pass it with --payload"); the API says where instead.
CLI_WORDING, API_WORDING = "with --payload", "in the request body"


def _timeout(request: Request) -> float | None:
    """`?timeout=SECONDS`: how long the station has to answer this call (default
    OCPP_CALL_TIMEOUT)."""
    text = request.query_params.get("timeout")
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_TIMEOUT_SECONDS:  # also refuses nan
        raise ApiError(
            400, f"timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:g}"
        )
    return value


def _protocol(station_id: str, action: str) -> str:
    """The station's OCPP version ("" if it never connected); 404 for an unknown station or an
    action its version does not have."""
    protocol = Station.objects.filter(pk=station_id).values_list("protocol", flat=True).first()
    if protocol is None:
        raise ApiError(404, f"No such station: {station_id}")
    if protocol and action not in CSMS_ACTIONS[protocol]:
        raise ApiError(
            404,
            f"{action} is not a command of OCPP {protocol}",
            valid_actions=list(CSMS_ACTIONS[protocol]),
        )
    return protocol


class StationCommandView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="station_command_default",
        summary="The default payload of a command for this station (nothing is sent)",
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='{"station", "protocol", "action", "payload"}: the payload '
                "`manage.py ocpp_command` sends when given none",
            ),
            400: OpenApiResponse(description="The action has no default: pass a payload"),
            404: OpenApiResponse(
                description="No such station, or the action is not in its version"
            ),
        },
    )
    def get(self, request: Request, station_id: str, action: str) -> Response:
        protocol = _protocol(station_id, action)
        if not protocol:
            raise ApiError(
                400,
                f"{station_id} has never connected, so its OCPP version is unknown: "
                "there is no default payload",
            )
        try:
            payload = default_payload(action, protocol, station_id)
        except NoDefaultPayload as error:
            raise ApiError(400, str(error).replace(CLI_WORDING, API_WORDING)) from None
        return Response(
            {"station": station_id, "protocol": protocol, "action": action, "payload": payload}
        )

    @extend_schema(
        operation_id="station_command",
        summary="Send an OCPP command to a station and return its answer",
        request=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter(
                "timeout",
                float,
                OpenApiParameter.QUERY,
                description="Seconds the station has to answer (default OCPP_CALL_TIMEOUT, "
                f"at most {MAX_TIMEOUT_SECONDS:g})",
            )
        ],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The station's response payload"),
            400: OpenApiResponse(description="The payload breaks the action's schema"),
            404: OpenApiResponse(
                description="No such station, or the action is not in its version"
            ),
            502: OpenApiResponse(description="The station answered with a CALLERROR"),
            503: OpenApiResponse(description="The station is not connected"),
            504: OpenApiResponse(description="The station did not answer in time"),
        },
    )
    def post(self, request: Request, station_id: str, action: str) -> Response:
        payload = request.data if request.data else {}
        if not isinstance(payload, dict):
            raise ApiError(400, "The body must be the OCPP payload: a JSON object.")
        timeout = _timeout(request)
        _protocol(station_id, action)
        result = send_or_raise(station_id, action, payload, request, timeout=timeout)
        return command_response(result, station_id)
