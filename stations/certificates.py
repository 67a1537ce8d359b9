"""Certificates for TLS between stations and the CSMS (security profiles 2 and 3): a certificate
authority, the CSMS's server certificate, and each station's client certificate, whose subject CN
is the station's identity (A00: profile 3 identifies a station by it).

Used by `manage.py make_certificates` (a local deployment, a lab) and by the tests, which make
real certificates from a real CA, a wrong CA and expired ones. A production network gets its
certificates from its PKI; the CSMS only needs the CA that signed the stations' certificates.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAYS = 365


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        """`<name>.pem` (the certificate) and `<name>.key` (its key, unencrypted, mode 600)."""
        folder.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
        cert_path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return cert_path, key_path


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _window(
    days: int, start: datetime.datetime | None
) -> tuple[datetime.datetime, datetime.datetime]:
    begin = start or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    return begin, begin + datetime.timedelta(days=days)


def authority(
    common_name: str = "CSMS CA", *, days: int = DAYS * 10, organization: str = "CSMS"
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name, organization)
    begin, end = _window(days, None)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(begin)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def _leaf(
    ca: Issued,
    common_name: str,
    usage: x509.ObjectIdentifier,
    *,
    days: int,
    start: datetime.datetime | None,
    alternative_names: list[x509.GeneralName] | None = None,
    organization: str = "CSMS",
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    begin, end = _window(days, start)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(begin)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if alternative_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(alternative_names), critical=False
        )
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def server(
    ca: Issued,
    hosts: list[str],
    *,
    days: int = DAYS,
    start: datetime.datetime | None = None,
) -> Issued:
    """The CSMS's certificate for these host names and IP addresses."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return _leaf(
        ca,
        hosts[0],
        ExtendedKeyUsageOID.SERVER_AUTH,
        days=days,
        start=start,
        alternative_names=names,
    )


def station(
    ca: Issued,
    identity: str,
    *,
    days: int = DAYS,
    start: datetime.datetime | None = None,
    organization: str = "CSMS",
) -> Issued:
    """A station's client certificate: subject CN = its identity."""
    return _leaf(
        ca,
        identity,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        days=days,
        start=start,
        organization=organization,
    )
