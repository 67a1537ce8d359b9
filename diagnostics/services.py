"""Log requests and their uploads: what the CSMS records when it asks a station for a log, when the
station answers and reports its upload's progress, and when the file arrives.

Where the station uploads is the CSMS's own upload URL (`upload_url`, served by
diagnostics/uploads.py) unless an integrator names another location in the request. Each request
has its own URL: a random token whose SHA-256 is stored, good until the station reports the upload
finished (any status in `models.FINISHED`) or OCPP_UPLOAD_HOURS have passed. A second upload to
the same URL before then replaces the first (a station retrying after a lost answer); after, the
URL is gone (410).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File

from diagnostics.models import FINISHED, LogRequest
from stations import events
from stations.clock import ocpp_time, utcnow
from stations.db import atomic
from stations.models import StationEvent

UPLOAD_PATH = "/uploads/logs/"
DIAGNOSTICS_16 = "GetDiagnostics"


@dataclass(frozen=True)
class LogOrder:
    """What an operator asks for: a kind of log, over a time range, uploaded where."""

    kind: str = LogRequest.Kind.DIAGNOSTICS_LOG
    oldest: datetime | None = None
    latest: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None
    remote_location: str = ""  # empty: the CSMS's own upload URL

    def wire(self, request_id: int, location: str) -> tuple[str, dict[str, Any]]:
        """(action, payload): GetDiagnostics for the 1.6 kind, else GetLog."""
        retry: dict[str, Any] = {}
        if self.retries is not None:
            retry["retries"] = self.retries
        if self.retry_interval is not None:
            retry["retryInterval"] = self.retry_interval
        if self.kind == LogRequest.Kind.DIAGNOSTICS:
            payload: dict[str, Any] = {"location": location, **retry}
            if self.oldest:
                payload["startTime"] = ocpp_time(self.oldest)
            if self.latest:
                payload["stopTime"] = ocpp_time(self.latest)
            return DIAGNOSTICS_16, payload
        log: dict[str, Any] = {"remoteLocation": location}
        if self.oldest:
            log["oldestTimestamp"] = ocpp_time(self.oldest)
        if self.latest:
            log["latestTimestamp"] = ocpp_time(self.latest)
        return "GetLog", {"logType": self.kind, "requestId": request_id, "log": log, **retry}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def upload_base() -> str:
    """The CSMS's own upload address, without a token (what a default payload shows)."""
    return f"{settings.CSMS_PUBLIC_URL.rstrip('/')}{UPLOAD_PATH}"


def upload_url(token: str) -> str:
    return f"{upload_base()}{token}/"


def open_request(station_id: str, order: LogOrder, request_id: int, user: Any) -> str:
    """A new request's row; returns the location to send (the CSMS's own URL, with a new token,
    unless the order names one)."""
    token = "" if order.remote_location else secrets.token_urlsafe(32)
    LogRequest.objects.create(
        station_id=station_id,
        request_id=request_id,
        kind=order.kind,
        oldest=order.oldest,
        latest=order.latest,
        remote_location=order.remote_location,
        token_hash=token_hash(token) if token else "",
        expires_at=utcnow() + timedelta(hours=settings.OCPP_UPLOAD_HOURS),
        requested_by=user if getattr(user, "pk", None) else None,
    )
    return order.remote_location or upload_url(token)


def request_at(station_id: str, location: str) -> LogRequest | None:
    """The 1.6 GetDiagnostics request sent with `location` (its answer names no request)."""
    requests = LogRequest.objects.filter(station_id=station_id, kind=LogRequest.Kind.DIAGNOSTICS)
    base = upload_base()
    if location.startswith(base):
        return requests.filter(token_hash=token_hash(location[len(base) :].strip("/"))).first()
    return requests.filter(remote_location=location).first()


def answered(
    station_id: str, request_id: int, status: str, filename: str, info: str = ""
) -> LogRequest | None:
    """The station's answer to GetLog (Accepted, Rejected, AcceptedCanceled) or GetDiagnostics
    (a file name, or none: nothing to upload); empty `status` when it did not answer."""
    with atomic():
        request = (
            LogRequest.objects.select_for_update()
            .filter(station_id=station_id, request_id=request_id)
            .first()
        )
        if request is None:
            return None
        request.answer = status
        request.answer_info = info[:600]
        request.filename = filename[:255]
        if status in ("Rejected", "NoFile"):
            request.expires_at = utcnow()  # nothing will come: the URL is revoked
        request.save(update_fields=["answer", "answer_info", "filename", "expires_at"])
        events.publish("log", station=station_id)
        return request


def status_notified(station_id: str, status: str, request_id: int | None) -> LogRequest | None:
    """A LogStatusNotification (with its requestId) or a 1.6 DiagnosticsStatusNotification
    (`request_id` None: the station's latest GetDiagnostics). Idle (answering a TriggerMessage:
    no upload is going) concerns no request; any other status about a request the CSMS does not
    know is kept as a station event, so that nothing the station said is lost."""
    with atomic():
        requests = LogRequest.objects.select_for_update().filter(station_id=station_id)
        if request_id is not None:
            request = requests.filter(request_id=request_id).first()
        else:
            request = requests.filter(kind=LogRequest.Kind.DIAGNOSTICS).first()  # newest first
        if request is None:
            if status != "Idle":
                StationEvent.objects.create(
                    station_id=station_id,
                    kind=StationEvent.Kind.NOTIFICATION,
                    type="UnknownLogRequest",
                    message=f"Upload status {status} for a request the CSMS did not send",
                    data={"status": status, "requestId": request_id},
                )
            return None
        if request.finished and request.status == status:
            return None  # a resent notification changes nothing
        request.status = status
        request.history = [*request.history, {"status": status, "at": ocpp_time(utcnow())}]
        request.save(update_fields=["status", "history"])
        events.publish("log", station=station_id)
        return request


@dataclass(frozen=True)
class Slot:
    """Where an upload with a token goes: a request that takes it, or why not (HTTP status)."""

    request_pk: int | None
    refusal: int = 0
    reason: str = ""


def slot(token: str) -> Slot:
    request = LogRequest.objects.filter(token_hash=token_hash(token)).only(
        "pk", "status", "answer", "expires_at"
    )
    found = request.first() if token else None
    if found is None:
        return Slot(None, 404, "No upload is expected at this address")
    if found.status in FINISHED or found.answer in ("Rejected", "NoFile"):
        return Slot(None, 410, "This upload is finished")
    if found.expires_at <= utcnow():
        return Slot(None, 410, "This upload address has expired")
    return Slot(found.pk)


class _Received(File):
    """The uploaded file where the upload left it: the storage moves it into place."""

    def temporary_file_path(self) -> str:
        return str(self.name)


def store(token: str, path: Path, name: str, size: int, sha256: str) -> Slot:
    """Keep the file just received at `path` as the request's log (replacing an earlier one)."""
    with atomic():
        check = slot(token)
        if check.request_pk is None:
            return check
        request = LogRequest.objects.select_for_update().get(pk=check.request_pk)
        old = request.file.name if request.file else ""
        filename = f"{request.station_id}-{request.request_id}-{name or request.filename or 'log'}"
        with path.open("rb") as handle:
            request.file.save(filename, _Received(handle, name=str(path)), save=False)
        request.size = size
        request.sha256 = sha256
        request.uploaded_at = utcnow()
        request.save(update_fields=["file", "size", "sha256", "uploaded_at"])
        if old and old != request.file.name:
            request.file.storage.delete(old)
        events.publish("log", station=request.station_id)
        return check
