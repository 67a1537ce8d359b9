"""POST /api/stations/<id>/commands/<Action>/: any OCPP command, to a station on any worker.

The body is the OCPP payload itself. The answer is the station's response payload (200); a CALLERROR
is a 502 carrying its code and description; not connected is 503; no answer in time is 504; an action
the station's version does not have is 404 with the valid ones; a payload that breaks the action's
schema is 400 and is never sent.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from csms_site.api import ApiError, IsStaff
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
    station_id: str, action: str, payload: dict[str, Any], request: Request, source: str = "api"
) -> CommandResult:
    """Send from a synchronous view; refusals become 400 / 404 API errors."""
    try:
        return send_command_from_thread(
            station_id, action, payload, requested_by=request.user, source=source
        )
    except CommandRefused as refused:
        if refused.valid_actions:
            raise ApiError(
                404, refused.message, valid_actions=list(refused.valid_actions)
            ) from None
        raise ApiError(400, refused.message) from None


class StationCommandView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="station_command",
        summary="Send an OCPP command to a station and return its answer",
        request=OpenApiTypes.OBJECT,
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
        protocol = Station.objects.filter(pk=station_id).values_list("protocol", flat=True).first()
        if protocol is None:
            raise ApiError(404, f"No such station: {station_id}")
        if protocol and action not in CSMS_ACTIONS[protocol]:
            raise ApiError(
                404,
                f"{action} is not a command of OCPP {protocol}",
                valid_actions=list(CSMS_ACTIONS[protocol]),
            )
        return command_response(send_or_raise(station_id, action, payload, request), station_id)
