"""Certificates of the stations (OCPP 2.0.1 A02/A03 and M03-M05, the 1.6 security whitepaper):
the certificates the CSMS's authority signed for them from their CSRs, and the certificates they
report having installed (GetInstalledCertificateIds)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from stations.models import Station


class SigningRequest(models.Model):
    """One SignCertificate: the CSR, the CSMS's verdict, the certificate it signed, and what the
    station said of it (CertificateSigned)."""

    class Kind(models.TextChoices):
        CHARGING_STATION = "ChargingStationCertificate", "Charging station (OCPP)"
        V2G = "V2GCertificate", "V2G (ISO 15118)"

    class State(models.TextChoices):
        REJECTED = "rejected", "CSR rejected"
        ACCEPTED = "accepted", "CSR accepted, being signed"
        SIGNED = "signed", "Signed, being sent"
        INSTALLED = "installed", "Installed"
        REFUSED = "refused", "Refused by the station"
        UNDELIVERED = "undelivered", "Not delivered"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="signing_requests")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    csr = models.TextField()
    subject = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=12, choices=State.choices)
    problem = models.CharField(max_length=300, blank=True, help_text="Why the CSR was rejected.")
    certificate = models.TextField(blank=True, help_text="The chain sent (PEM, leaf first).")
    serial_number = models.CharField(max_length=64, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True, db_index=True)
    answer_info = models.CharField(max_length=600, blank=True)
    renewal_asked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the renewal job last asked for its successor."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.station_id} {self.kind} ({self.get_state_display()})"


class InstalledCertificate(models.Model):
    """A certificate a station reported installed (its CertificateHashData), as of its last
    GetInstalledCertificateIds for that type."""

    station = models.ForeignKey(
        Station, on_delete=models.CASCADE, related_name="installed_certificates"
    )
    certificate_type = models.CharField(max_length=40)
    hash_algorithm = models.CharField(max_length=8)
    issuer_name_hash = models.CharField(max_length=128)
    issuer_key_hash = models.CharField(max_length=128)
    serial_number = models.CharField(max_length=40)
    children = models.JSONField(default=list, blank=True, help_text="2.0.1: the chain's hash data.")
    reported_at = models.DateTimeField()
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="DeleteCertificate Accepted."
    )
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["station_id", "certificate_type", "serial_number"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "station",
                    "certificate_type",
                    "issuer_name_hash",
                    "issuer_key_hash",
                    "serial_number",
                ],
                name="installed_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.station_id} {self.certificate_type} {self.serial_number}"

    def hash_data(self) -> dict[str, str]:
        return {
            "hashAlgorithm": self.hash_algorithm,
            "issuerNameHash": self.issuer_name_hash,
            "issuerKeyHash": self.issuer_key_hash,
            "serialNumber": self.serial_number,
        }
