"""Stations, their connectors, ID tokens, transactions, meter samples and the message log.

One data model serves both protocol versions. A 1.6 connector N is stored as EVSE N with its single
connector 1, the mapping the OCPP 2.0.1 migration guide uses; the 1.6 connector 0 (the station as a
whole) is the station's own `status`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from stations.identity import validate_identity


class Protocol(models.TextChoices):
    V16 = "1.6", "OCPP 1.6J"
    V201 = "2.0.1", "OCPP 2.0.1"


class RegistrationStatus(models.TextChoices):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class SecurityProfile(models.IntegerChoices):
    KEY_IF_SET = 0, "0: its key if it has one"
    BASIC = 1, "1: Basic auth"
    TLS_BASIC = 2, "2: TLS and Basic auth"
    TLS_CERTIFICATE = 3, "3: TLS and a client certificate"


class Station(models.Model):
    id = models.CharField(
        "identity", primary_key=True, max_length=48, validators=[validate_identity]
    )
    password_hash = models.CharField(
        max_length=200,
        blank=True,
        help_text="Salted hash of the Basic-auth password; empty means no password (Security Profile 0).",
    )
    next_password_hash = models.CharField(
        max_length=200,
        blank=True,
        help_text="A key being rotated in (stations/keys.py): valid beside the current one until "
        "the station connects with it, then the only one.",
    )
    key_rotation_started_at = models.DateTimeField(null=True, blank=True)
    registration_status = models.CharField(
        max_length=16, choices=RegistrationStatus.choices, default=RegistrationStatus.ACCEPTED
    )
    security_profile = models.PositiveSmallIntegerField(
        choices=SecurityProfile.choices,
        default=SecurityProfile.KEY_IF_SET,
        help_text="The least it may connect with (stations/security.py): a lower one is refused.",
    )
    protocol = models.CharField(max_length=8, choices=Protocol.choices, blank=True)

    # The live connection. `session` grows by one with each authenticated connection; the socket
    # holding the highest number is the live one and `channel_name` is where commands reach it.
    connected = models.BooleanField(default=False, db_index=True)
    session = models.PositiveBigIntegerField(default=0)
    channel_name = models.CharField(max_length=200, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    remote_address = models.CharField(max_length=64, blank=True)

    # From BootNotification.
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    serial_number = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    iccid = models.CharField(max_length=20, blank=True)
    imsi = models.CharField(max_length=20, blank=True)
    meter_type = models.CharField(max_length=25, blank=True)
    meter_serial_number = models.CharField(max_length=25, blank=True)
    boot_reason = models.CharField(max_length=32, blank=True)
    boot_status = models.CharField(
        max_length=16,
        choices=RegistrationStatus.choices,
        blank=True,
        help_text="What the last BootNotification was answered.",
    )
    last_boot_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    # OCPP 1.6 connector 0: the station as a whole.
    status = models.CharField(max_length=32, blank=True)
    error_code = models.CharField(max_length=50, blank=True)

    failed_logins = models.PositiveIntegerField(default=0)
    last_failed_login_at = models.DateTimeField(null=True, blank=True)
    last_failed_login_address = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.id

    @property
    def is_accepted(self) -> bool:
        """Booted and allowed: may send any message without a new BootNotification."""
        return (
            self.boot_status == RegistrationStatus.ACCEPTED
            and self.registration_status == RegistrationStatus.ACCEPTED
        )


class Connector(models.Model):
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="connectors")
    evse_id = models.PositiveIntegerField()
    connector_id = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=32, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    info = models.CharField(max_length=50, blank=True)
    vendor_id = models.CharField(max_length=255, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    status_at = models.DateTimeField(null=True, blank=True, help_text="Station's timestamp.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["station_id", "evse_id", "connector_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "evse_id", "connector_id"], name="connector_unique_per_station"
            )
        ]

    def __str__(self) -> str:
        return f"{self.station_id} EVSE {self.evse_id} connector {self.connector_id}"


class AuthorizationStatus(models.TextChoices):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"


class IdToken(models.Model):
    """An RFID card, app account or other credential (1.6 idTag, 2.0.1 idToken)."""

    token = models.CharField(max_length=36, unique=True)
    type = models.CharField(
        max_length=20, default="ISO14443", help_text="2.0.1 IdTokenEnumType; 1.6 idTags have none."
    )
    status = models.CharField(
        max_length=16, choices=AuthorizationStatus.choices, default=AuthorizationStatus.ACCEPTED
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        help_text="Group token (1.6 parentIdTag, 2.0.1 groupIdToken).",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="id_tokens",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["token"]
        verbose_name = "ID token"

    def __str__(self) -> str:
        return self.token


class FlagReason(models.TextChoices):
    """Why an open transaction was flagged for the operator."""

    STATION_REBOOTED = "StationRebooted", "Station rebooted with it open"
    STATION_OFFLINE = "StationOffline", "Station offline for too long"


class Transaction(models.Model):
    """A charging session. 1.6 stations get this row's primary key as their transactionId; 2.0.1
    stations choose their own id, stored in `ocpp_id` and always looked up with the station."""

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="transactions")
    evse_id = models.PositiveIntegerField()
    connector_id = models.PositiveIntegerField(default=1)
    # NULL for 1.6 rows: the partial unique constraints below tell the two kinds apart by it.
    ocpp_id = models.CharField(  # noqa: DJ001
        "station's transaction id", max_length=36, null=True, blank=True
    )
    id_token = models.CharField(max_length=36, blank=True)
    id_token_type = models.CharField(max_length=20, blank=True)
    authorization_status = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    meter_start_wh = models.FloatField(null=True, blank=True)
    meter_stop_wh = models.FloatField(null=True, blank=True)
    energy_wh = models.FloatField(default=0, help_text="Energy delivered so far.")
    is_active = models.BooleanField(default=True)
    stop_reason = models.CharField(max_length=32, blank=True)
    charging_state = models.CharField(max_length=20, blank=True)
    # Time spent in each charging state, for tariffs (stations.services.charging_time): the
    # closed periods' sums, and when the current state began.
    state_since = models.DateTimeField(null=True, blank=True)
    charging_seconds = models.FloatField(default=0)
    idle_seconds = models.FloatField(
        default=0,
        help_text="Connected and not charging, after charging had begun (the EV's doing).",
    )
    reservation_id = models.PositiveIntegerField(null=True, blank=True)
    remote_start_id = models.IntegerField(null=True, blank=True)
    last_seq_no = models.PositiveIntegerField(null=True, blank=True)
    offline = models.BooleanField(
        default=False, help_text="Some of its messages were queued while the station was offline."
    )
    # Set while an active transaction needs an operator's eye (see stations.services.liveness).
    flagged_at = models.DateTimeField(null=True, blank=True, db_index=True)
    flag_reason = models.CharField(max_length=32, choices=FlagReason.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Not a column: the last reported power (kW) of an open session, set where a page shows it
    # (the dashboard's station page); None elsewhere.
    power_kw: float | None = None

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "ocpp_id"],
                condition=Q(ocpp_id__isnull=False),
                name="transaction_unique_station_id",
            ),
            # A retried 1.6 StartTransaction carries the same connector and timestamp: one row.
            models.UniqueConstraint(
                fields=["station", "evse_id", "started_at"],
                condition=Q(ocpp_id__isnull=True),
                name="transaction_unique_16_start",
            ),
        ]
        indexes = [models.Index(fields=["station", "is_active"], name="transaction_active_idx")]

    def __str__(self) -> str:
        return f"{self.station_id} #{self.transaction_id}"

    @property
    def transaction_id(self) -> str:
        """The id the station knows this transaction by."""
        return self.ocpp_id if self.ocpp_id is not None else str(self.pk)


class TransactionEvent(models.Model):
    """One applied 2.0.1 TransactionEvent (without its meter values); its seqNo makes resends no-ops."""

    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="events")
    seq_no = models.PositiveIntegerField()
    event_type = models.CharField(max_length=10)
    trigger_reason = models.CharField(max_length=32)
    timestamp = models.DateTimeField()
    offline = models.BooleanField(default=False)

    class Meta:
        ordering = ["transaction_id", "seq_no"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "seq_no"], name="event_unique_seq_no")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.seq_no}"


class MeterSample(models.Model):
    """One sampled value. Absent optional fields hold their OCPP defaults (never NULL), so the
    unique constraint makes a resent MeterValues store nothing twice."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="meter_samples")
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.CASCADE, related_name="samples"
    )
    evse_id = models.PositiveIntegerField()
    connector_id = models.PositiveIntegerField(default=1)
    timestamp = models.DateTimeField()
    measurand = models.CharField(max_length=50, default="Energy.Active.Import.Register")
    phase = models.CharField(max_length=8, blank=True)
    unit = models.CharField(max_length=20, default="Wh")
    context = models.CharField(max_length=32, default="Sample.Periodic")
    location = models.CharField(max_length=8, default="Outlet")
    value = models.FloatField()

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "station",
                    "evse_id",
                    "connector_id",
                    "timestamp",
                    "measurand",
                    "phase",
                    "location",
                    "context",
                ],
                name="sample_unique",
            )
        ]
        indexes = [models.Index(fields=["transaction", "timestamp"], name="sample_tx_time_idx")]

    def __str__(self) -> str:
        return f"{self.measurand} {self.value} {self.unit}"


class MessageLog(models.Model):
    """Every frame in and out, as it went over the wire."""

    class Direction(models.TextChoices):
        IN = "in", "station → CSMS"
        OUT = "out", "CSMS → station"

    station_id = models.CharField(max_length=48, db_index=False)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    message_type = models.PositiveSmallIntegerField(
        help_text="2 CALL, 3 CALLRESULT, 4 CALLERROR, 0 unreadable."
    )
    action = models.CharField(max_length=64, blank=True)
    unique_id = models.CharField(max_length=64, blank=True)
    frame = models.TextField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["station_id", "-created_at"], name="messagelog_station_idx")
        ]
        verbose_name = "message log entry"
        verbose_name_plural = "message log"

    def __str__(self) -> str:
        return f"{self.station_id} {self.direction} {self.action or self.message_type}"


class StationEvent(models.Model):
    """Things an operator or auditor must be able to find: security events, refused logins,
    takeovers, anomalies in what a station sent, and the station's own notifications."""

    class Kind(models.TextChoices):
        SECURITY = "security"
        CONNECTION = "connection"
        ANOMALY = "anomaly"
        NOTIFICATION = "notification"
        AUDIT = "audit"

    station_id = models.CharField(max_length=48, db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    type = models.CharField(max_length=64)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.station_id}: {self.type}"


class Command(models.Model):
    """A command the CSMS sent to a station: who asked, what was sent, what came back, how long."""

    station_id = models.CharField(max_length=48, db_index=True)
    action = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="station_commands",
    )
    source = models.CharField(max_length=16, default="api", help_text="api, cli, reservation, …")
    outcome = models.CharField(max_length=20)
    response = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    description = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} → {self.station_id}: {self.outcome}"
