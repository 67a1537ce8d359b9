"""The 1.6 security whitepaper's certificates: SignCertificate on ExtendedTriggerMessage
(emulator/v16/remote_trigger.py), CertificateSigned, InstallCertificate, DeleteCertificate,
GetInstalledCertificateIds."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action

from emulator.protocol.certificates import CertificatesBlock


class Certificates16(CertificatesBlock):
    SIGN_TRIGGERS = ("SignChargePointCertificate",)

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(self, certificate_type: str, **_: Any) -> dict[str, Any]:
        found = self.installed([certificate_type])
        if not found:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashData": [data for _, data in found]}
