"""Log files the CSMS asked stations for (OCPP 2.0.1 N01 GetLog, the 1.6 security whitepaper's
GetLog, 1.6 GetDiagnostics) and what became of each: the station's answer, every upload status it
notified, and the file itself, uploaded to the CSMS (diagnostics/uploads.py).

The upload URL sent to the station carries a random token, stored here only as its SHA-256: it is
good for this one request, until the station has reported the upload finished or the request
expired (OCPP_UPLOAD_HOURS).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from stations.models import Station

# The statuses after which a request is over: the upload URL takes nothing more. 2.0.1 and the 1.6
# whitepaper's UploadLogStatusEnumType, and 1.6 DiagnosticsStatus's UploadFailed.
FINISHED = frozenset(
    {
        "Uploaded",
        "UploadFailure",
        "UploadFailed",
        "BadMessage",
        "NotSupportedOperation",
        "PermissionDenied",
        "AcceptedCanceled",
    }
)


class LogRequest(models.Model):
    class Kind(models.TextChoices):
        DIAGNOSTICS_LOG = "DiagnosticsLog", "Diagnostics log"
        SECURITY_LOG = "SecurityLog", "Security log"
        DIAGNOSTICS = "Diagnostics", "Diagnostics (1.6 GetDiagnostics)"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="log_requests")
    request_id = models.IntegerField(help_text="GetLog's requestId (ours for GetDiagnostics).")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    oldest = models.DateTimeField(null=True, blank=True)
    latest = models.DateTimeField(null=True, blank=True)
    remote_location = models.CharField(
        max_length=512, blank=True, help_text="Where the station was told to upload, if elsewhere."
    )
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    expires_at = models.DateTimeField()
    answer = models.CharField(
        max_length=20, blank=True, help_text="Accepted, Rejected, AcceptedCanceled; empty: none."
    )
    answer_info = models.CharField(max_length=600, blank=True)
    filename = models.CharField(max_length=255, blank=True, help_text="The station's file name.")
    status = models.CharField(max_length=24, blank=True, help_text="The last upload status.")
    history = models.JSONField(default=list, blank=True, help_text="[{status, at}], in order.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    file = models.FileField(upload_to="logs/%Y/%m/", blank=True, max_length=300)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "request_id"], name="log_per_request")
        ]

    def __str__(self) -> str:
        return f"{self.station_id} {self.kind} #{self.request_id} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED or self.answer in ("Rejected", "NoFile")

    @property
    def state(self) -> str:
        """What an operator reads: Sent, Rejected, Uploading, Uploaded (the file is here, or at the
        remote location), or the failure the station reported."""
        if self.answer in ("Rejected", "NoFile"):
            return "Rejected" if self.answer == "Rejected" else "No file"
        if self.status:
            return self.status
        return "Accepted" if self.answer else "Sent"
