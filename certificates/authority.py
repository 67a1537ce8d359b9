"""The certificate authority that signs stations' CSRs. The built-in one is the CSMS's own CA,
read from CSMS_CA_DIR (`ca.pem`, `ca.key`: what `manage.py make_certificates` writes), or made
there on first use if the folder has none, so that a fresh install can issue certificates at once.
A network with a PKI of its own plugs its signer in with CSMS_CERTIFICATE_SIGNER (a dotted path to
a class with the `Signer` methods), for instance one that forwards the CSR to its CA's API.

The certificates issued are valid OCPP_CERTIFICATE_DAYS; a ChargingStationCertificate is for
client authentication (security profile 3), a V2GCertificate for both ends of a TLS connection
(the station is the TLS server to the EV in ISO 15118).
"""

from __future__ import annotations

import datetime
import fcntl
import logging
import threading
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.conf import settings
from django.utils.module_loading import import_string

from stations import certificates as tls

logger = logging.getLogger("csms.certificates")


class Signer(Protocol):
    def sign(self, csr: x509.CertificateSigningRequest, kind: str) -> list[x509.Certificate]:
        """The certificate for `csr`, then the CA certificates up to (not always including) the
        root: the chain CertificateSigned sends, leaf first."""
        ...


class LocalAuthority:
    def __init__(self, certificate: x509.Certificate, key: CertificateIssuerPrivateKeyTypes):
        self.certificate = certificate
        self.key = key

    @classmethod
    def from_folder(cls, folder: Path) -> LocalAuthority:
        cert_path, key_path = folder / "ca.pem", folder / "ca.key"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two workers starting at once make one CA
            if not cert_path.exists() or not key_path.exists():
                logger.warning(
                    "No CA in %s: making one (as manage.py make_certificates does)", folder
                )
                tls.authority("CSMS CA").write(folder, "ca")
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return cls(certificate, key)  # type: ignore[arg-type]  # an issuer key, as written

    def sign(self, csr: x509.CertificateSigningRequest, kind: str) -> list[x509.Certificate]:
        now = datetime.datetime.now(datetime.UTC)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if kind == "V2GCertificate":
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.certificate.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=settings.OCPP_CERTIFICATE_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return [certificate, self.certificate]


_signer: Signer | None = None
_lock = threading.Lock()


def signer() -> Signer:
    """The configured signer, made once per process."""
    global _signer
    with _lock:
        if _signer is None:
            path = settings.CSMS_CERTIFICATE_SIGNER
            _signer = (
                import_string(path)()
                if path
                else LocalAuthority.from_folder(Path(settings.CSMS_CA_DIR))
            )
        return _signer


def reset() -> None:
    """Forget the signer (a test that changes the settings)."""
    global _signer
    with _lock:
        _signer = None


def pem(chain: list[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
