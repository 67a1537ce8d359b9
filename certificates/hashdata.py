"""CertificateHashDataType (OCPP 2.0.1 §2.6, the 1.6 whitepaper): how a certificate is named in
DeleteCertificate and GetInstalledCertificateIds. The hashes are those of an OCSP CertID
(RFC 6960): of the DER issuer name, and of the issuer's public key (the BIT STRING's bits, not
its DER wrapping); the serial number in hexadecimal without leading zeros. No Django here: the
emulator computes the same names."""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

ALGORITHM = "SHA256"


def _key_bits(key: PublicKeyTypes) -> bytes:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING }: the BIT STRING
    # is the last element; its contents after the unused-bits byte are the key.
    return _last_bit_string(der)


def _length(data: bytes, at: int) -> tuple[int, int]:
    first = data[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    return int.from_bytes(data[at + 1 : at + 1 + count], "big"), at + 1 + count


def _last_bit_string(der: bytes) -> bytes:
    _, at = _length(der, 1)  # into the outer SEQUENCE
    length, body = _length(der, at + 1)  # the algorithm SEQUENCE
    at = body + length
    assert der[at] == 0x03, "a SubjectPublicKeyInfo ends with a BIT STRING"
    length, body = _length(der, at + 1)
    return der[body + 1 : body + length]  # past the unused-bits byte


def of(certificate: x509.Certificate, issuer_key: PublicKeyTypes | None = None) -> dict[str, str]:
    """The hash data of `certificate`; its issuer's key is its own when it is self-signed."""
    key = issuer_key or certificate.public_key()
    return {
        "hashAlgorithm": ALGORITHM,
        "issuerNameHash": hashlib.sha256(certificate.issuer.public_bytes()).hexdigest(),
        "issuerKeyHash": hashlib.sha256(_key_bits(key)).hexdigest(),
        "serialNumber": format(certificate.serial_number, "x"),
    }
