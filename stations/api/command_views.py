"""POST /api/stations/<id>/commands/<Action>/: any OCPP command, to a station on any worker.

The body is the OCPP payload itself. A command with a service of its own (the device model's
GetVariables and SetVariables, say) takes it through that service: checked against what the
station reported, split to its limits, recorded; the answer has the shape of one response. The answer is the station's response payload (200); a CALLERROR
is a 502 carrying its code and description; not connected is 503; no answer in time is 504; an action
the station's version does not have is 404 with the valid ones; a payload that breaks the action's
schema is 400 and is never sent. `?timeout=SECONDS` overrides OCPP_CALL_TIMEOUT for this one call.

GET on the same URL answers the default payload for that action and station (what
`manage.py ocpp_command` sends when given none), without sending anything.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from csms_site.api import ApiError, IsStaff
from stations import keys
from stations.remote import verdict
from stations.remote.catalog import NoDefaultPayload, default_payload
from stations.remote.delivery import Route, check_action, route
from stations.remote.forms import InputError
from stations.remote.operator import send_payload_from_thread
from stations.remote.results import CommandRefused, CommandResult, Outcome

MAX_TIMEOUT_SECONDS = 300.0
NO_DEFAULT_HINT = "send the payload in the request body"


def command_response(result: CommandResult, station_id: str, action: str) -> Response:
    """The HTTP answer for a command's outcome: the station's payload itself when it answered
    (whatever its status), else the verdict's status and message."""
    if result.outcome == Outcome.ANSWERED:
        return Response(result.payload)
    judged = verdict.judge(result, station_id, action)
    extra: dict[str, Any] = {}
    if result.outcome == Outcome.TIMEOUT:
        extra = {"duration_ms": result.duration_ms}
    elif result.outcome == Outcome.CALL_ERROR:
        extra = {
            "ocpp_error_code": result.error_code,
            "ocpp_error_description": result.description,
            "ocpp_error_details": result.details,
        }
    elif result.outcome == Outcome.INVALID_RESPONSE:
        extra = {"station_payload": result.payload}
    raise ApiError(judged.http_status, judged.api_message, **extra)


def refused_error(refused: CommandRefused) -> ApiError:
    """A command that was not sent: 404 for no such station or action (with the valid ones),
    400 for a payload that breaks the schema."""
    if refused.valid_actions:
        return ApiError(404, refused.message, valid_actions=list(refused.valid_actions))
    return ApiError(404 if refused.code == "unknown_station" else 400, refused.message)


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


def _route(station_id: str, action: str) -> Route:
    """The station's route (the one read of its row); 404 for an unknown station or an action
    its version does not have."""
    where = route(station_id)
    if where is None:
        raise ApiError(404, f"No such station: {station_id}")
    if where.protocol:
        try:
            check_action(where.protocol, action)
        except CommandRefused as refused:
            raise refused_error(refused) from None
    return where


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
        protocol = _route(station_id, action).protocol
        if not protocol:
            raise ApiError(
                400,
                f"{station_id} has never connected, so its OCPP version is unknown: "
                "there is no default payload",
            )
        try:
            payload = default_payload(action, protocol, station_id)
        except NoDefaultPayload as error:
            raise ApiError(400, f"{error}: {NO_DEFAULT_HINT}", no_default=str(error)) from None
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
        where = _route(station_id, action)
        try:
            result = send_payload_from_thread(
                where, action, payload, user=request.user, source="api", timeout=timeout
            )
        except CommandRefused as refused:
            raise refused_error(refused) from None
        except InputError as error:
            raise ApiError(400, str(error)) from None
        return command_response(result, station_id, action)


class RotateKeySerializer(serializers.Serializer):
    key = serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text="The new key (16 to 40 characters; 1.6: at most 20 bytes); absent: generated.",
    )


class StationKeyRotationView(APIView):
    """POST /api/stations/<id>/rotate-key/: give the station a new Basic-auth key without ever
    locking it out (stations/keys.py). The answer carries the new key, once."""

    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="station_rotate_key",
        summary="Rotate the station's Basic-auth key (the new key is in the answer, once)",
        request=RotateKeySerializer,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='{"status", "outcome", "pending", "key"}: pending means both keys '
                "are valid until the station connects with the new one",
            ),
            400: OpenApiResponse(description="The key is not a valid key"),
            404: OpenApiResponse(description="No such station"),
            502: OpenApiResponse(description="The station answered with a CALLERROR"),
            503: OpenApiResponse(description="The station is not connected"),
        },
    )
    def post(self, request: Request, station_id: str) -> Response:
        body = RotateKeySerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        try:
            rotation = async_to_sync(keys.rotate)(
                station_id, key=body.validated_data.get("key"), user=request.user, source="api"
            )
        except CommandRefused as refused:
            raise refused_error(refused) from None
        except InputError as error:
            raise ApiError(400, str(error)) from None
        result = rotation.result
        if result.outcome not in (Outcome.ANSWERED, Outcome.TIMEOUT):
            return command_response(result, station_id, "key rotation")
        return Response(
            {
                "status": rotation.status,
                "outcome": result.outcome,
                "pending": rotation.pending,
                "key": rotation.key,
            }
        )
