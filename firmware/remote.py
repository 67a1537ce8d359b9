"""The firmware commands (2.0.1 L01-L06, 1.6 UpdateFirmware and the whitepaper's
SignedUpdateFirmware), declared in the catalog of `stations.remote`.

An operator's update names an image of the CSMS's (its download URL, signature and certificate
follow from it) or, from REST, a location of the integrator's; either way it is recorded as a
`FirmwareUpdate` before it is sent and followed to its outcome (firmware/services.py). A 1.6
station gets SignedUpdateFirmware for a signed image and UpdateFirmware otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware import campaigns, services
from firmware.models import FirmwareImage, Publication
from firmware.services import UpdateOrder
from stations.clock import parse_ocpp_time
from stations.db import in_db_thread
from stations.models import Station
from stations.remote.answers import Answer, records
from stations.remote.catalog import (
    V16,
    V201,
    CommandSpec,
    NoDefaultPayload,
    Target,
    register,
    request_id,
)
from stations.remote.forms import Form, FormInput, InputError, Number
from stations.remote.results import CommandResult

IMAGE = Number("image", "Image #", required=True, minimum=1)
RETRIES = Number("retries", "Retries", minimum=0, maximum=10)


@dataclass(frozen=True)
class UpdateInput(FormInput):
    order: UpdateOrder

    fields = (IMAGE, RETRIES)

    @classmethod
    def from_form(cls, form: Form) -> UpdateInput:
        return cls(UpdateOrder(image_id=IMAGE.read_int(form), retries=RETRIES.read(form)))


def _no_image(target: Target) -> Any:
    raise NoDefaultPayload("It needs the firmware: an image of the CSMS's or a location")


def _build(value: UpdateInput, target: Target) -> dict[str, Any]:
    return services.wire(
        target.protocol, value.order, 0, value.order.location or "<download URL>", None
    )[1]


def _parse(payload: dict[str, Any], target: Target) -> UpdateInput:
    firmware = payload.get("firmware") or {}
    return UpdateInput(
        UpdateOrder(
            location=str(firmware.get("location") or payload.get("location") or ""),
            retrieve_at=parse_ocpp_time(
                firmware.get("retrieveDateTime") or payload.get("retrieveDate")
            ),
            install_at=parse_ocpp_time(firmware.get("installDateTime")),
            retries=payload.get("retries"),
            retry_interval=payload.get("retryInterval"),
        )
    )


def _open(station_id: str, order: UpdateOrder, user: Any) -> tuple[int, str]:
    protocol = Station.objects.filter(pk=station_id).values_list("protocol", flat=True).first()
    if protocol is None:
        raise InputError(f"No such station: {station_id}")
    if order.image_id is not None and not FirmwareImage.objects.filter(pk=order.image_id).exists():
        raise InputError(f"No firmware image #{order.image_id}")
    return services.open_update(station_id, order, user), protocol or V201


async def _update(
    value: UpdateInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    update_pk, protocol = await in_db_thread(_open)(station_id, value.order, user)
    return await campaigns.send(
        update_pk, station_id, protocol, value.order, user=user, source=source
    )


for name, label, actions in (
    ("update-firmware", "Update firmware", {V16: "UpdateFirmware", V201: "UpdateFirmware"}),
    ("signed-update-firmware", "Update firmware (signed)", {V16: "SignedUpdateFirmware"}),
):
    register(
        CommandSpec(
            name,
            label,
            actions,
            UpdateInput,
            _build,
            default=_no_image,
            perform=_update,
            parse=_parse,
            on_page=False,  # on the station's firmware section (security page)
        )
    )


# --- PublishFirmware / UnpublishFirmware (L05, L06): a local controller serves an image ---------


@dataclass(frozen=True)
class PublishInput(FormInput):
    image_id: int | None = None
    checksum: str = ""  # from REST: the image of this MD5

    fields = (IMAGE,)

    @classmethod
    def from_form(cls, form: Form) -> PublishInput:
        return cls(IMAGE.read_int(form))


def _publish_payload(station_id: str, value: PublishInput) -> dict[str, Any]:
    import secrets

    images = FirmwareImage.objects.all()
    if value.image_id is not None:
        image = images.filter(pk=value.image_id).first()
    else:
        image = images.filter(md5=value.checksum.lower()).first()
    if image is None:
        raise InputError(f"No firmware image #{value.image_id or value.checksum}")
    image_id = image.pk
    # The controller downloads it like a station would: a token of its own, on a queued update.
    update_pk = services.open_update(station_id, UpdateOrder(image_id=image_id), None)
    token = secrets.token_urlsafe(32)
    from firmware.models import FirmwareUpdate

    FirmwareUpdate.objects.filter(pk=update_pk).update(
        token_hash=services.token_hash(token),
        outcome=FirmwareUpdate.Outcome.PENDING,
        action="PublishFirmware",
    )
    number = request_id()
    Publication.objects.create(
        station_id=station_id, image=image, request_id=number, checksum=image.md5
    )
    return {
        "location": services.download_url(token, image),
        "checksum": image.md5,
        "requestId": number,
    }


async def _publish(
    value: PublishInput, station_id: str, user: Any, source: str
) -> tuple[str, CommandResult]:
    from stations.remote.delivery import send_command

    payload = await in_db_thread(_publish_payload)(station_id, value)
    result = await send_command(
        station_id, "PublishFirmware", payload, requested_by=user, source=source
    )
    return f"PublishFirmware #{payload['requestId']}", result


register(
    CommandSpec(
        "publish-firmware",
        "Publish firmware (local controller)",
        {V201: "PublishFirmware"},
        PublishInput,
        lambda value, target: {"location": "<download URL>", "checksum": "<MD5>", "requestId": 0},
        default=_no_image,
        perform=_publish,
        # A REST payload names the image by its MD5; the CSMS serves it at a URL of its own.
        parse=lambda payload, target: PublishInput(checksum=str(payload["checksum"])),
        on_page=False,
    )
)


@dataclass(frozen=True)
class UnpublishInput(FormInput):
    checksum: str

    fields = ()

    @classmethod
    def from_form(cls, form: Form) -> UnpublishInput:
        checksum = str(form.get("checksum") or "").strip()
        if not checksum:
            raise InputError("checksum is required")
        return cls(checksum[:32])


register(
    CommandSpec(
        "unpublish-firmware",
        "Unpublish firmware",
        {V201: "UnpublishFirmware"},
        UnpublishInput,
        lambda value, target: {"checksum": value.checksum},
        default=_no_image,
        on_page=False,
    )
)


@records("UnpublishFirmware")
def _unpublished(answer: Answer) -> None:
    status = str(answer.response.get("status", "")) if answer.answered else ""
    Publication.objects.filter(
        station_id=answer.station_id, checksum=answer.payload["checksum"]
    ).update(unpublished=status)


@records("PublishFirmware")
def _published(answer: Answer) -> None:
    status = str(answer.response.get("status", "")) if answer.answered else ""
    if status and status != "Accepted":
        Publication.objects.filter(
            station_id=answer.station_id, request_id=answer.payload["requestId"]
        ).update(status=status)
