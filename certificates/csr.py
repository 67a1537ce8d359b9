"""What the CSMS checks in a station's certificate signing request before its authority signs it
(2.0.1 A02/A03 and the certificate properties of A00; the 1.6 whitepaper, same rules):

- a PEM CSR whose signature verifies (it was made with the key it carries);
- the subject's CN is the station's identity: the certificate will be its identity for security
  profile 3, so a station cannot ask for another's;
- the subject's O, where the station's device model reports SecurityCtrlr.OrganizationName, is
  that name;
- the key is strong enough: RSA of at least 2048 bits, or an elliptic curve of at least 256 bits.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

RSA_MIN_BITS = 2048
EC_MIN_BITS = 256


class CsrRejected(ValueError):
    """Why a CSR is not signed: an operator reads it on the station's security page."""


@dataclass(frozen=True)
class CheckedCsr:
    request: x509.CertificateSigningRequest
    subject: str


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def check(pem: str, identity: str, organization: str = "") -> CheckedCsr:
    try:
        request = x509.load_pem_x509_csr(pem.encode())
    except ValueError:
        raise CsrRejected("The CSR is not a PEM certificate signing request") from None
    if not request.is_signature_valid:
        raise CsrRejected("The CSR's signature does not verify")
    common_name = _attribute(request.subject, NameOID.COMMON_NAME)
    if common_name != identity:
        raise CsrRejected(
            f"The CSR's CN is {common_name!r}, not the station's identity {identity!r}"
        )
    given = _attribute(request.subject, NameOID.ORGANIZATION_NAME)
    if organization and given != organization:
        raise CsrRejected(
            f"The CSR's O is {given!r}, not the station's organization {organization!r}"
        )
    key = request.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < RSA_MIN_BITS:
            raise CsrRejected(
                f"An RSA key of {key.key_size} bits is too weak (at least {RSA_MIN_BITS})"
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < EC_MIN_BITS:
            raise CsrRejected(f"A {key.curve.name} key is too weak (at least {EC_MIN_BITS} bits)")
    else:
        raise CsrRejected("The CSR's key is neither RSA nor an elliptic curve")
    return CheckedCsr(request, request.subject.rfc4514_string())
