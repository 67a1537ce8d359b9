"""Firmware over REST: images (upload with `multipart/form-data`), updates (one station:
`POST /api/firmware-updates/ {"station", "image"}`; each followed to its outcome), and campaigns
(create, `pause`, `resume`, `cancel`, with their progress)."""

from __future__ import annotations

from typing import Any

import django_filters
from asgiref.sync import async_to_sync
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from csms_site.api import IsStaff
from firmware import campaigns, services
from firmware.models import Campaign, FirmwareImage, FirmwareUpdate
from firmware.services import UpdateOrder
from stations.api.command_views import refused_error
from stations.models import Station
from stations.remote.results import CommandRefused


class FirmwareImageSerializer(serializers.ModelSerializer):
    file = serializers.FileField(write_only=True)

    class Meta:
        model = FirmwareImage
        fields = [
            "id",
            "name",
            "version",
            "vendor",
            "model",
            "file",
            "size",
            "sha256",
            "md5",
            "signature",
            "signing_certificate",
            "signed",
            "created_at",
        ]
        read_only_fields = ["size", "sha256", "md5", "signed", "created_at"]

    def create(self, validated: dict[str, Any]) -> FirmwareImage:
        upload = validated.pop("file")
        return services.store_image(
            validated["name"],
            validated["version"],
            upload,
            upload.name,
            vendor=validated.get("vendor", ""),
            model=validated.get("model", ""),
            signature=validated.get("signature", ""),
            signing_certificate=validated.get("signing_certificate", ""),
            user=self.context["request"].user,
        )


class FirmwareImageViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsStaff]
    serializer_class = FirmwareImageSerializer
    queryset = FirmwareImage.objects.all()
    parser_classes = [MultiPartParser, FormParser, JSONParser]


class FirmwareUpdateSerializer(serializers.ModelSerializer):
    station = serializers.PrimaryKeyRelatedField(queryset=Station.objects.all())
    image = serializers.PrimaryKeyRelatedField(queryset=FirmwareImage.objects.all())
    retries = serializers.IntegerField(write_only=True, required=False, min_value=0, max_value=10)

    class Meta:
        model = FirmwareUpdate
        fields = [
            "id",
            "station",
            "image",
            "campaign",
            "canary",
            "request_id",
            "action",
            "answer",
            "status",
            "history",
            "outcome",
            "problem",
            "version_before",
            "version_after",
            "created_at",
            "sent_at",
            "finished_at",
            "retries",
        ]
        read_only_fields = [f for f in fields if f not in ("station", "image", "retries")]


class UpdateFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station_id")

    class Meta:
        model = FirmwareUpdate
        fields = ["outcome", "campaign", "image"]


class FirmwareUpdateViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsStaff]
    serializer_class = FirmwareUpdateSerializer
    filterset_class = UpdateFilter
    queryset = FirmwareUpdate.objects.all()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        station: Station = body.validated_data["station"]
        image: FirmwareImage = body.validated_data["image"]
        order = UpdateOrder(image_id=image.pk, retries=body.validated_data.get("retries"))
        pk = services.open_update(station.pk, order, request.user)
        try:
            async_to_sync(campaigns.send)(
                pk, station.pk, station.protocol or "2.0.1", order, user=request.user, source="api"
            )
        except CommandRefused as refused:
            raise refused_error(refused) from None
        update = FirmwareUpdate.objects.get(pk=pk)
        return Response(self.get_serializer(update).data, status=status.HTTP_201_CREATED)


class CampaignSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "image",
            "vendor",
            "model",
            "from_version",
            "canary_percent",
            "success_gate",
            "concurrency",
            "state",
            "stage",
            "paused_reason",
            "created_at",
            "finished_at",
            "progress",
        ]
        read_only_fields = ["state", "stage", "paused_reason", "created_at", "finished_at"]

    def get_progress(self, campaign: Campaign) -> dict[str, Any]:
        now = campaigns.progress(campaign.pk)
        return {**now.__dict__, "success_rate": now.success_rate}

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        for name in ("canary_percent", "success_gate"):
            if name in data and not 0 <= data[name] <= 100:
                raise serializers.ValidationError({name: "A percentage: 0 to 100."})
        return data

    def create(self, validated: dict[str, Any]) -> Campaign:
        image = validated.pop("image")
        return campaigns.create(
            validated.pop("name"), image, user=self.context["request"].user, **validated
        )


class CampaignViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsStaff]
    serializer_class = CampaignSerializer
    queryset = Campaign.objects.select_related("image")

    def _act(self, change: Any) -> Response:
        campaign = change(self.get_object().pk)
        return Response(self.get_serializer(campaign).data)

    @extend_schema(request=None, responses=CampaignSerializer, summary="Pause a running campaign")
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._act(campaigns.pause)

    @extend_schema(request=None, responses=CampaignSerializer, summary="Resume (past its gate too)")
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._act(campaigns.resume)

    @extend_schema(
        request=None, responses=CampaignSerializer, summary="Cancel: queued updates stop"
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._act(campaigns.cancel)
