"""Firmware (OCPP 2.0.1 block L, 1.6 FirmwareManagement and the security whitepaper's signed
update): the images operators upload, each update of a station through every status it notifies
until its next boot proves the new version, and campaigns that roll an image out over a fleet in
stages, behind a success-rate gate."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from stations.models import Station


class FirmwareImage(models.Model):
    name = models.CharField(max_length=120)
    version = models.CharField(max_length=50, help_text="What the station reports once installed.")
    vendor = models.CharField(max_length=50, blank=True, help_text="For stations of this vendor.")
    model = models.CharField(max_length=50, blank=True, help_text="For stations of this model.")
    file = models.FileField(upload_to="firmware/", max_length=300)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    md5 = models.CharField(max_length=32, blank=True, help_text="PublishFirmware's checksum.")
    signature = models.TextField(
        blank=True, help_text="Base64 signature of the file (signed update)."
    )
    signing_certificate = models.TextField(blank=True, help_text="PEM certificate of the signer.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def signed(self) -> bool:
        return bool(self.signature and self.signing_certificate)


class Campaign(models.Model):
    """An image rolled out to the stations chosen by vendor, model and current version: first a
    canary share, then the rest, paused when the success rate falls below the gate."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Stage(models.TextChoices):
        CANARY = "canary", "Canary"
        ROLLOUT = "rollout", "Rollout"

    name = models.CharField(max_length=120)
    image = models.ForeignKey(FirmwareImage, on_delete=models.PROTECT, related_name="campaigns")
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    from_version = models.CharField(max_length=50, blank=True, help_text="Only stations on it.")
    canary_percent = models.PositiveSmallIntegerField(default=10)
    success_gate = models.PositiveSmallIntegerField(
        default=90, help_text="The least share of finished updates that succeed, in percent."
    )
    concurrency = models.PositiveIntegerField(default=20, help_text="Updates in flight at most.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.RUNNING)
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.CANARY)
    paused_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_state_display()})"


class FirmwareUpdate(models.Model):
    """One update of one station: queued (by a campaign), sent, the station's statuses, and the
    outcome, proven by the version its next boot reports."""

    class Outcome(models.TextChoices):
        QUEUED = "queued", "Queued"
        PENDING = "pending", "In progress"
        INSTALLED = "installed", "Installed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="firmware_updates")
    image = models.ForeignKey(
        FirmwareImage, null=True, blank=True, on_delete=models.SET_NULL, related_name="updates"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="updates"
    )
    canary = models.BooleanField(default=False)
    request_id = models.IntegerField(null=True, blank=True)
    action = models.CharField(
        max_length=24, blank=True, help_text="UpdateFirmware or SignedUpdateFirmware."
    )
    location = models.CharField(max_length=512, blank=True)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    answer = models.CharField(max_length=24, blank=True)
    status = models.CharField(max_length=32, blank=True, help_text="The last status notified.")
    history = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    problem = models.CharField(max_length=300, blank=True)
    version_before = models.CharField(max_length=50, blank=True)
    version_after = models.CharField(max_length=50, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["campaign", "outcome"], name="update_campaign_outcome")]

    def __str__(self) -> str:
        return f"{self.station_id} → {self.image or self.location} ({self.get_outcome_display()})"


class Publication(models.Model):
    """PublishFirmware to a local controller (2.0.1 L05) and its statuses; UnpublishFirmware (L06)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="publications")
    image = models.ForeignKey(FirmwareImage, null=True, on_delete=models.SET_NULL, related_name="+")
    request_id = models.IntegerField()
    checksum = models.CharField(max_length=32)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=32, blank=True)
    locations = models.JSONField(
        default=list, blank=True, help_text="Where the controller serves it."
    )
    history = models.JSONField(default=list, blank=True)
    unpublished = models.CharField(
        max_length=16, blank=True, help_text="UnpublishFirmware's answer."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "request_id"], name="publication_per_request"
            )
        ]

    def __str__(self) -> str:
        return f"{self.station_id} publishes {self.checksum} ({self.status or 'sent'})"
