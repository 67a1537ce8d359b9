"""Local lists over REST: the operator's lists, each station's list and its update."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from csms_site.api import ApiError, IsStaff
from locallists import sync
from locallists.api.serializers import (
    AuthorizationListSerializer,
    StationListSerializer,
    SyncSerializer,
)
from locallists.models import AuthorizationList
from locallists.remote import sync as send_update
from stations.api.command_views import command_response
from stations.models import Station
from stations.remote.forms import InputError

STATION = OpenApiParameter("station_id", str, OpenApiParameter.PATH, description="Identity")


class AuthorizationListViewSet(viewsets.ModelViewSet):
    """The operator's local authorization lists (every token, or chosen ones); a change makes
    the stations holding the list due for an update."""

    permission_classes = [IsStaff]
    serializer_class = AuthorizationListSerializer
    queryset = AuthorizationList.objects.prefetch_related("tokens", "stations")


def _station(station_id: str) -> None:
    if not Station.objects.filter(pk=station_id).exists():
        raise ApiError(404, f"No such station: {station_id}")


class StationListView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="station_local_list",
        summary="The station's local list: which list, its state, the version it holds",
        parameters=[STATION],
        responses=StationListSerializer,
    )
    def get(self, request: Request, station_id: str) -> Response:
        _station(station_id)
        return Response(StationListSerializer(sync.station_list(station_id)).data)

    @extend_schema(
        operation_id="station_local_list_assign",
        summary="Choose the list the station holds (null: none); the update is due",
        parameters=[STATION],
        request=StationListSerializer,
        responses=StationListSerializer,
    )
    def put(self, request: Request, station_id: str) -> Response:
        _station(station_id)
        serializer = StationListSerializer(sync.station_list(station_id), data=request.data)
        serializer.is_valid(raise_exception=True)
        found = sync.assign(station_id, serializer.validated_data["list"])
        return Response(StationListSerializer(found).data)


class StationListSyncView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="station_local_list_sync",
        summary="Send the station its list now (the difference, or Full when due or asked); "
        "the answer of the last message sent",
        parameters=[STATION],
        request=SyncSerializer,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, station_id: str) -> Response:
        _station(station_id)
        body = SyncSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        try:
            _, result = async_to_sync(send_update)(
                station_id, full=body.validated_data["full"], user=request.user, source="api"
            )
        except InputError as error:
            raise ApiError(409, str(error)) from None
        return command_response(result, station_id, "SendLocalList")
