"""Firmware updates on the CSMS's side (2.0.1 L01-L04, 1.6 UpdateFirmware and the whitepaper's
SignedUpdateFirmware): images stored and served, each update recorded before it is sent, every
status the station notifies, and the outcome.

**Serving.** An update's location is the CSMS's own download URL,
`CSMS_PUBLIC_URL/files/firmware/<token>/<file>` (firmware/downloads.py): a token per update, stored
as its SHA-256, good while the update is in progress (stations retry downloads). An integrator may
send a location of their own instead (a CDN): the CSMS records the update all the same.

**Signed updates.** An image uploaded with its signature and signing certificate goes as a signed
update: 2.0.1 UpdateFirmware with `signature` and `signingCertificate`, 1.6 SignedUpdateFirmware.
An unsigned image goes to a 1.6 station as the plain UpdateFirmware.

**Outcome.** A failure status (DownloadFailed, InstallationFailed, InstallVerificationFailed,
InvalidSignature) or a refusal fails the update at once. Success is proven by the station's next
BootNotification reporting the image's version (stations.services.boot.after_boot); a boot for a
firmware update with another version fails it. An update that neither succeeds nor fails within
OCPP_FIRMWARE_UPDATE_MINUTES fails as timed out (the campaign job checks). An update with a
location of the integrator's and no image succeeds on the Installed status: there is no version to
prove.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files import File

from firmware.models import FirmwareImage, FirmwareUpdate
from stations import events
from stations.clock import ocpp_time, utcnow
from stations.db import atomic
from stations.models import StationEvent

DOWNLOAD_PATH = "/files/firmware/"
FAILURES = frozenset(
    {
        "DownloadFailed",
        "InstallationFailed",
        "InstallVerificationFailed",
        "InvalidSignature",
    }
)
REFUSALS = frozenset({"Rejected", "InvalidCertificate", "RevokedCertificate"})
# A publication's statuses after which the controller needs the image no more.
PUBLISH_DONE = ("Published", "DownloadFailed", "InvalidChecksum", "PublishFailed")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def store_image(
    name: str,
    version: str,
    content: IO[bytes],
    filename: str,
    *,
    vendor: str = "",
    model: str = "",
    signature: str = "",
    signing_certificate: str = "",
    user: Any = None,
) -> FirmwareImage:
    """An operator's image, with its size and checksums (SHA-256; MD5 for PublishFirmware)."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    while chunk := content.read(1 << 20):
        sha.update(chunk)
        md5.update(chunk)
        size += len(chunk)
    content.seek(0)
    image = FirmwareImage(
        name=name[:120],
        version=version[:50],
        vendor=vendor[:50],
        model=model[:50],
        size=size,
        sha256=sha.hexdigest(),
        md5=md5.hexdigest(),
        signature=signature.strip(),
        signing_certificate=signing_certificate.strip(),
        uploaded_by=user if getattr(user, "pk", None) else None,
    )
    # A folder per content: two images of one name never overwrite each other.
    image.file.save(f"{image.sha256[:16]}/{filename}", File(content), save=False)
    image.save()
    return image


def download_url(token: str, image: FirmwareImage) -> str:
    name = (image.file.name or "firmware.bin").rsplit("/", 1)[-1]
    return f"{settings.CSMS_PUBLIC_URL.rstrip('/')}{DOWNLOAD_PATH}{token}/{name}"


@dataclass(frozen=True)
class UpdateOrder:
    """What to install and when: an image of the CSMS's (or an integrator's own location)."""

    image_id: int | None = None
    location: str = ""
    retrieve_at: datetime | None = None  # None: now
    install_at: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None


def wire(
    protocol: str, order: UpdateOrder, request_id: int, location: str, image: FirmwareImage | None
) -> tuple[str, dict[str, Any]]:
    """(action, payload) of the update for a station of `protocol`."""
    retrieve = ocpp_time(order.retrieve_at or utcnow())
    extra: dict[str, Any] = {}
    if order.retries is not None:
        extra["retries"] = order.retries
    if order.retry_interval is not None:
        extra["retryInterval"] = order.retry_interval
    signed = image is not None and image.signed
    if protocol == "1.6" and not signed:
        return "UpdateFirmware", {"location": location, "retrieveDate": retrieve, **extra}
    firmware: dict[str, Any] = {"location": location, "retrieveDateTime": retrieve}
    if order.install_at:
        firmware["installDateTime"] = ocpp_time(order.install_at)
    if signed and image is not None:
        firmware["signingCertificate"] = image.signing_certificate
        firmware["signature"] = image.signature
    action = "SignedUpdateFirmware" if protocol == "1.6" else "UpdateFirmware"
    return action, {"requestId": request_id, "firmware": firmware, **extra}


def prepare(
    update_pk: int, protocol: str, order: UpdateOrder, request_id: int
) -> tuple[str, dict[str, Any]]:
    """An update about to be sent: its download token, request id and payload."""
    with atomic():
        update = (
            FirmwareUpdate.objects.select_for_update(of=("self",))
            .select_related("image", "station")
            .get(pk=update_pk)
        )
        image = update.image
        token = ""
        location = order.location
        if image is not None and not location:
            token = secrets.token_urlsafe(32)
            location = download_url(token, image)
        action, payload = wire(protocol, order, request_id, location, image)
        update.request_id = request_id
        update.action = action
        update.location = location[:512]
        update.token_hash = token_hash(token) if token else ""
        update.outcome = FirmwareUpdate.Outcome.PENDING
        update.version_before = update.station.firmware_version
        update.sent_at = utcnow()
        update.save()
        events.publish("firmware", station=update.station_id)
        return action, payload


def open_update(station_id: str, order: UpdateOrder, user: Any) -> int:
    update = FirmwareUpdate.objects.create(
        station_id=station_id,
        image_id=order.image_id,
        location=order.location[:512],
        outcome=FirmwareUpdate.Outcome.QUEUED,
        requested_by=user if getattr(user, "pk", None) else None,
    )
    return update.pk


def _finish(update: FirmwareUpdate, outcome: str, problem: str = "") -> None:
    update.outcome = outcome
    update.problem = problem[:300]
    update.finished_at = utcnow()


def answered(update_pk: int, status: str) -> None:
    """The station's answer: a refusal fails the update; no answer leaves it in progress (it may
    still go on, or time out)."""
    with atomic():
        update = FirmwareUpdate.objects.select_for_update().get(pk=update_pk)
        update.answer = status
        if status in REFUSALS:
            _finish(update, FirmwareUpdate.Outcome.FAILED, f"The station answered {status}")
        elif status == "AcceptedCanceled":  # it dropped the update it was busy with for this one
            FirmwareUpdate.objects.filter(
                station_id=update.station_id, outcome=FirmwareUpdate.Outcome.PENDING
            ).exclude(pk=update.pk).update(
                outcome=FirmwareUpdate.Outcome.CANCELLED,
                problem="Cancelled by the station for a newer update",
                finished_at=utcnow(),
            )
        update.save()
        events.publish("firmware", station=update.station_id)


def unanswered(update_pk: int, why: str) -> None:
    """The station did not answer the update (or answered it with a CALLERROR): failed."""
    with atomic():
        update = FirmwareUpdate.objects.select_for_update().get(pk=update_pk)
        if update.outcome == FirmwareUpdate.Outcome.PENDING:
            _finish(update, FirmwareUpdate.Outcome.FAILED, why)
            update.save()
            events.publish("firmware", station=update.station_id)


def status_notified(station_id: str, status: str, request_id: int | None) -> FirmwareUpdate | None:
    """A FirmwareStatusNotification (2.0.1 with its request id; 1.6 without: the station's latest
    update in progress) or 1.6 SignedFirmwareStatusNotification. Idle concerns no update."""
    if status == "Idle":
        return None
    with atomic():
        updates = FirmwareUpdate.objects.select_for_update(of=("self",)).filter(
            station_id=station_id, outcome=FirmwareUpdate.Outcome.PENDING
        )
        if request_id is not None:
            updates = updates.filter(request_id=request_id)
        update = updates.select_related("image").first()
        if update is None:  # an update the CSMS did not send (a local one): kept, not lost
            StationEvent.objects.create(
                station_id=station_id,
                kind=StationEvent.Kind.NOTIFICATION,
                type="UnknownFirmwareUpdate",
                message=f"Firmware status {status} for an update the CSMS did not send",
                data={"status": status, "requestId": request_id},
            )
            return None
        if update.history and update.history[-1]["status"] == status:
            return update  # resent
        update.status = status
        update.history = [*update.history, {"status": status, "at": ocpp_time(utcnow())}]
        if status in FAILURES:
            _finish(update, FirmwareUpdate.Outcome.FAILED, status)
        elif status == "Installed" and update.image is None:
            _finish(update, FirmwareUpdate.Outcome.INSTALLED)
        update.save()
        events.publish("firmware", station=station_id)
        return update


def booted(station_id: str, before: str, after: str, reason: str) -> None:
    """A boot whose version changed (or that was for a firmware update): the proof, or the
    failure, of the station's update in progress."""
    update = (
        FirmwareUpdate.objects.select_for_update(of=("self",))
        .select_related("image")
        .filter(station_id=station_id, outcome=FirmwareUpdate.Outcome.PENDING, image__isnull=False)
        .first()
    )
    if update is None or update.image is None:
        return
    update.version_after = after[:50]
    if after == update.image.version:
        _finish(update, FirmwareUpdate.Outcome.INSTALLED)
    elif reason == "FirmwareUpdate":
        _finish(
            update,
            FirmwareUpdate.Outcome.FAILED,
            f"The station booted with version {after!r}, not {update.image.version!r}",
        )
    update.save()
    events.publish("firmware", station=station_id)


def time_out() -> int:
    """Fail the updates in progress for longer than OCPP_FIRMWARE_UPDATE_MINUTES."""
    limit = utcnow() - timedelta(minutes=settings.OCPP_FIRMWARE_UPDATE_MINUTES)
    return FirmwareUpdate.objects.filter(
        outcome=FirmwareUpdate.Outcome.PENDING, sent_at__lt=limit
    ).update(
        outcome=FirmwareUpdate.Outcome.FAILED,
        problem=f"No proof of success within {settings.OCPP_FIRMWARE_UPDATE_MINUTES} minutes",
        finished_at=utcnow(),
    )


@dataclass(frozen=True)
class Download:
    path: str  # in the media storage
    size: int
    name: str


def download(token: str) -> Download | None:
    """The image an update's token serves, while that update is in progress."""
    update = (
        FirmwareUpdate.objects.select_related("image")
        .filter(token_hash=token_hash(token), outcome=FirmwareUpdate.Outcome.PENDING)
        .first()
        if token
        else None
    )
    image = update.image if update is not None else None
    if image is None and token:  # a local controller publishing it (L05), until it has
        from firmware.models import Publication

        publication = (
            Publication.objects.select_related("image")
            .filter(token_hash=token_hash(token))
            .exclude(status__in=PUBLISH_DONE)
            .first()
        )
        image = publication.image if publication is not None else None
    if image is None or not image.file:
        return None
    return Download(image.file.path, image.size, (image.file.name or "").rsplit("/", 1)[-1])


def publication_status(
    station_id: str, status: str, locations: list[str], request_id: int | None
) -> None:
    """A PublishFirmwareStatusNotification (L05): onto its publication; Published carries where
    the local controller now serves the image."""
    from firmware.models import Publication

    with atomic():
        publication = (
            Publication.objects.select_for_update()
            .filter(
                station_id=station_id,
                **({"request_id": request_id} if request_id is not None else {}),
            )
            .first()
        )
        if publication is None or status == "Idle":
            return
        publication.status = status
        if locations:
            publication.locations = locations
        publication.history = [*publication.history, {"status": status, "at": ocpp_time(utcnow())}]
        publication.save()
        events.publish("firmware", station=station_id)
