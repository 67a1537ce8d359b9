"""2.0.1 blocks A and M: SignCertificate on TriggerMessage, CertificateSigned, InstallCertificate,
DeleteCertificate, GetInstalledCertificateIds."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from emulator.protocol.certificates import CertificatesBlock


class Certificates201(CertificatesBlock):
    SIGN_TRIGGERS = ("SignChargingStationCertificate",)

    def sign_payload(self, kind: str) -> dict[str, Any]:
        return {**super().sign_payload(kind), "certificateType": kind}

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(
        self, certificate_type: list[str] | None = None, **_: Any
    ) -> dict[str, Any]:
        found = self.installed(certificate_type or [])
        if not found:
            return {"status": "NotFound"}
        return {
            "status": "Accepted",
            "certificateHashDataChain": [
                {"certificateType": kind, "certificateHashData": data} for kind, data in found
            ],
        }
