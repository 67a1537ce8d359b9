"""Log requests over REST: each GetLog / GetDiagnostics, its answer and upload statuses, and the
uploaded file (`GET /api/log-requests/<id>/file/`). Asking for a log is a command
(`POST /api/stations/<id>/commands/GetLog/`, or GetDiagnostics)."""

from __future__ import annotations

import django_filters
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request

from csms_site.api import IsStaff
from diagnostics.models import LogRequest


class LogRequestSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id")
    state = serializers.CharField(read_only=True)
    file_url = serializers.SerializerMethodField()
    requested_by = serializers.CharField(source="requested_by.username", default=None)

    class Meta:
        model = LogRequest
        fields = [
            "id",
            "station",
            "request_id",
            "kind",
            "oldest",
            "latest",
            "remote_location",
            "answer",
            "answer_info",
            "filename",
            "status",
            "state",
            "history",
            "requested_by",
            "created_at",
            "expires_at",
            "size",
            "sha256",
            "uploaded_at",
            "file_url",
        ]

    def get_file_url(self, request: LogRequest) -> str | None:
        if not request.file:
            return None
        url = f"/api/log-requests/{request.pk}/file/"
        context = self.context.get("request")
        return context.build_absolute_uri(url) if context is not None else url


class LogRequestFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station_id")
    uploaded = django_filters.BooleanFilter(
        field_name="uploaded_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = LogRequest
        fields = ["kind", "status", "answer"]


class LogRequestViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsStaff]
    serializer_class = LogRequestSerializer
    filterset_class = LogRequestFilter
    queryset = LogRequest.objects.select_related("requested_by")

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def file(self, request: Request, pk: str | None = None) -> FileResponse:
        """The uploaded log, as the station sent it."""
        return download(self.get_object())


def download(log: LogRequest) -> FileResponse:
    """The file of `log` as an attachment (404 when none arrived): REST and the dashboard."""
    if not log.file:
        raise Http404("No file was uploaded for this request")
    try:
        handle = log.file.open("rb")
    except FileNotFoundError:
        raise Http404("The uploaded file is missing from the storage") from None
    name = (log.file.name or "log").rsplit("/", 1)[-1]
    return FileResponse(handle, as_attachment=True, filename=name)
