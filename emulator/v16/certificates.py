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

    @on(Action.certificate_signed)
    def on_certificate_signed(self, certificate_chain: str, **_: Any) -> dict[str, Any]:
        return self.certificate_signed(certificate_chain)

    @on(Action.install_certificate)
    def on_install_certificate(
        self, certificate_type: str, certificate: str, **_: Any
    ) -> dict[str, Any]:
        return self.install(certificate_type, certificate)

    @on(Action.delete_certificate)
    def on_delete_certificate(
        self, certificate_hash_data: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        return self.delete(certificate_hash_data)

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(self, certificate_type: str, **_: Any) -> dict[str, Any]:
        found = self.installed([certificate_type])
        if not found:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashData": [data for _, data in found]}
