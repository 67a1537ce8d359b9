"""Certificates (2.0.1 A02/A03 and M03-M05; the 1.6 security whitepaper), as both versions keep
them: the station's own key and certificate, renewed through a CSR the CSMS signs, and a store of
root certificates the CSMS installs, lists and deletes.

A renewal (TriggerMessage SignChargingStationCertificate, 1.6 ExtendedTriggerMessage
SignChargePointCertificate) makes a new EC P-256 key and sends SignCertificate with a CSR whose CN
is the station's identity and whose O is its organization (CpoName / SecurityCtrlr.OrganizationName).
CertificateSigned is Accepted when the chain's leaf carries that key and names the station, and is
valid now; the station then holds the certificate (and could reconnect with it at security
profile 3: `client_certificate`). `reject_certificates` makes it refuse every chain (a CSMS's
handling of a Rejected CertificateSigned, TC_A_14_CSMS).
"""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.routing import on

from certificates import hashdata
from emulator.core.state import Connector
from emulator.protocol.base import ProtocolBase, Trigger


def _snake(data: dict[str, Any]) -> dict[str, str]:
    """Hash data as a handler receives it (snake_case) in the wire's camelCase."""
    keys = {
        "hash_algorithm": "hashAlgorithm",
        "issuer_name_hash": "issuerNameHash",
        "issuer_key_hash": "issuerKeyHash",
        "serial_number": "serialNumber",
    }
    return {keys.get(k, k): str(v) for k, v in data.items()}


class CertificatesBlock(ProtocolBase):
    SIGN_TRIGGERS: tuple[str, ...] = ()  # the version's names of the renewal trigger

    def __init__(self, station: Any) -> None:
        super().__init__(station)
        self.pending_key: ec.EllipticCurvePrivateKey | None = None
        self.client_certificate: list[x509.Certificate] = []  # leaf first
        self.client_key: ec.EllipticCurvePrivateKey | None = None
        self.roots: dict[str, list[x509.Certificate]] = {}  # InstallCertificate, by type
        self.reject_certificates = False

    def triggers(self) -> dict[str, Trigger]:
        return super().triggers() | {name: self._send_csr for name in self.SIGN_TRIGGERS}

    def csr(self, kind: str = "ChargingStationCertificate") -> str:
        self.pending_key = ec.generate_private_key(ec.SECP256R1())
        organization = self.station.device.settings["CpoName"].value
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, self.station.identity),
            ]
        )
        request = x509.CertificateSigningRequestBuilder().subject_name(subject)
        signed = request.sign(self.pending_key, hashes.SHA256())
        return signed.public_bytes(serialization.Encoding.PEM).decode()

    def sign_payload(self, kind: str) -> dict[str, Any]:
        """SignCertificate's payload (the 2.0.1 block adds the certificate type)."""
        return {"csr": self.csr(kind)}

    async def _send_csr(self, connectors: list[Connector]) -> None:
        await self.station.call("SignCertificate", self.sign_payload("ChargingStationCertificate"))

    def certificate_signed(self, chain: str) -> dict[str, Any]:
        """CertificateSigned's answer."""
        try:
            certificates = x509.load_pem_x509_certificates(chain.encode())
        except ValueError:
            return {"status": "Rejected"}
        leaf = certificates[0]
        now = datetime.datetime.now(datetime.UTC)
        names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        key = self.pending_key
        if key is None or leaf.public_key() != key.public_key():
            return {"status": "Rejected"}  # not for the key of its last CSR
        valid = leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc
        if self.reject_certificates or not valid or not names:
            return {"status": "Rejected"}
        if names[0].value != self.station.identity:
            return {"status": "Rejected"}
        self.client_certificate, self.client_key, self.pending_key = certificates, key, None
        self._present(certificates, key)
        return {"status": "Accepted"}

    def _present(self, chain: list[x509.Certificate], key: ec.EllipticCurvePrivateKey) -> None:
        """Connect with the new certificate from the next connection on (security profile 3):
        its TLS context takes the chain and key (it reads them from files, kept private)."""
        context = self.station.options.ssl_context
        if context is None:
            return
        folder = Path(tempfile.mkdtemp(prefix=f"emulator-{self.station.identity}-"))
        cert_path, key_path = folder / "client.pem", folder / "client.key"
        cert_path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
        key_path.touch(mode=0o600)
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context.load_cert_chain(str(cert_path), str(key_path))

    # The same action names and payloads in both versions: routed here once.

    @on("CertificateSigned")
    def on_certificate_signed(self, certificate_chain: str, **_: Any) -> dict[str, Any]:
        return self.certificate_signed(certificate_chain)

    @on("InstallCertificate")
    def on_install_certificate(
        self, certificate_type: str, certificate: str, **_: Any
    ) -> dict[str, Any]:
        return self.install(certificate_type, certificate)

    @on("DeleteCertificate")
    def on_delete_certificate(
        self, certificate_hash_data: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        return self.delete(certificate_hash_data)

    def install(self, kind: str, pem: str) -> dict[str, Any]:
        try:
            certificate = x509.load_pem_x509_certificate(pem.encode())
        except ValueError:
            return {"status": "Rejected"}
        self.roots.setdefault(kind, []).append(certificate)
        return {"status": "Accepted"}

    def delete(self, data: dict[str, Any]) -> dict[str, Any]:
        wanted = _snake(data)
        for certificates in self.roots.values():
            for certificate in certificates:
                if hashdata.of(certificate) == wanted:
                    certificates.remove(certificate)
                    return {"status": "Accepted"}
        return {"status": "NotFound"}

    def installed(self, kinds: list[str]) -> list[tuple[str, dict[str, str]]]:
        return [
            (kind, hashdata.of(certificate))
            for kind, certificates in self.roots.items()
            if not kinds or kind in kinds
            for certificate in certificates
        ]
