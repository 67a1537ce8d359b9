"""Reservations over REST: drivers reserve, read and cancel their own; operators all of them."""

from __future__ import annotations

from datetime import timedelta

from asgiref.sync import async_to_sync
from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from csms_site.api import ApiError, signed_in_user
from reservations import services
from reservations.api.serializers import ReservationRequestSerializer, ReservationSerializer
from reservations.models import Reservation
from stations.clock import utcnow
from stations.models import IdToken
from stations.remote import verdict
from stations.remote.results import Outcome

RESERVE_RESPONSES = {
    201: OpenApiResponse(ReservationSerializer, description="The station accepted"),
    400: OpenApiResponse(description="Invalid request"),
    409: OpenApiResponse(description="Already reserved, or the station answered otherwise"),
    503: OpenApiResponse(description="Nothing available, or the station is not connected"),
    504: OpenApiResponse(description="The station did not answer in time"),
}


def _reserve(request: Request, asked: services.ReservationRequest) -> services.ReservationResult:
    try:
        return async_to_sync(services.reserve)(user=request.user, request=asked)
    except services.NothingAvailable as error:
        raise ApiError(503, str(error)) from None
    except services.ReservationConflict as error:
        raise ApiError(409, str(error)) from None


def _reservation_response(result: services.ReservationResult) -> Response:
    """201 when the station accepted; otherwise the error that says why not (a station's other
    answer is a conflict: 409 with its status)."""
    body = ReservationSerializer(result.reservation).data
    station = result.reservation.station_id
    judged = verdict.judge(result.command, station, "ReserveNow", accepts={"Accepted"})
    if judged.accepted:
        return Response({**body, "station_status": "Accepted"}, status=status.HTTP_201_CREATED)
    if judged.outcome == Outcome.ANSWERED:
        raise ApiError(
            409,
            f"{station} answered {result.station_status}",
            station_status=result.station_status,
            reservation=body,
        )
    raise ApiError(judged.http_status, judged.api_message, reservation=body)


class ReservationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ReservationSerializer
    filterset_fields = ["status", "station"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Reservation.objects.none()
        services.reservation_expire_due()
        queryset = Reservation.objects.select_related("station", "user")
        if self.request.user.is_staff:
            return queryset
        return queryset.filter(user=signed_in_user(self.request))

    @extend_schema(request=ReservationRequestSerializer, responses=RESERVE_RESPONSES)
    def create(self, request: Request, *args, **kwargs) -> Response:
        asked = ReservationRequestSerializer(data=request.data, context={"request": request})
        asked.is_valid(raise_exception=True)
        return _reservation_response(_reserve(request, asked.to_request()))

    @extend_schema(request=None, responses={200: ReservationSerializer})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        return self._cancel(request)

    @extend_schema(request=None, responses={200: ReservationSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Send CancelReservation to the station; the same as DELETE."""
        return self._cancel(request)

    def _cancel(self, request: Request) -> Response:
        reservation = self.get_object()
        if reservation.status not in Reservation.ACTIVE:
            raise ApiError(409, f"Reservation {reservation.pk} is {reservation.status}.")
        result = async_to_sync(services.cancel)(reservation, user=request.user)
        if result.command.outcome in (Outcome.TIMEOUT, Outcome.CALL_ERROR):
            judged = verdict.judge(result.command, reservation.station_id, "CancelReservation")
            raise ApiError(judged.http_status, judged.api_message)
        body = ReservationSerializer(result.reservation).data
        return Response({**body, "station_status": result.station_status or None})


class QuickReserveView(APIView):
    """The seed's one-call form: reserve this station now with defaults, answer its status."""

    @extend_schema(request=None, responses=RESERVE_RESPONSES, operation_id="station_reserve")
    def post(self, request: Request, station_id: str) -> Response:
        user = signed_in_user(request)
        token = IdToken.objects.filter(user=user).values_list("token", flat=True).first()
        if token is None:
            if not user.is_staff:
                raise ApiError(400, "You have no ID token to reserve with.")
            token = f"CSMS-{user.username}"[:36]
        asked = services.ReservationRequest(
            id_token=token,
            expires_at=utcnow() + timedelta(minutes=settings.OCPP_RESERVATION_MINUTES),
            station_id=station_id,
        )
        result = _reserve(request, asked)
        response = _reservation_response(result)
        response.data = {"status": "Accepted", "reservation_id": result.reservation.pk}
        return response
