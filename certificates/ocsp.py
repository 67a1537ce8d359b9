"""Certificate status over OCSP (RFC 6960), for stations that cannot reach the responders
themselves: 2.0.1 M06 GetCertificateStatus, and the contract certificates of ISO 15118 Plug &
Charge that Authorize carries (C07).

The CSMS builds the OCSP request from the station's hash data (the CertID), posts it to the
responder the station named (or OCPP_OCSP_RESPONDER_URL, which overrides it: a network that
relays every OCSP request through one responder), and checks the answer is a successful response
about that CertID. Answers are kept until their nextUpdate (at most OCPP_OCSP_CACHE_SECONDS), per
process: a busy site's stations ask about the same few sub-CAs again and again. The HTTP call runs
in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from django.conf import settings

ALGORITHMS: dict[str, hashes.HashAlgorithm] = {
    "SHA256": hashes.SHA256(),
    "SHA384": hashes.SHA384(),
    "SHA512": hashes.SHA512(),
}
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class CertId:
    """OCPP's OCSPRequestDataType: which certificate, and who answers for it."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    responder_url: str

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> CertId:
        """camelCase (a payload as sent) or snake_case (as the library hands it over)."""

        def get(camel: str, snake: str) -> str:
            return str(data.get(camel, data.get(snake, "")) or "")

        return cls(
            get("hashAlgorithm", "hash_algorithm"),
            get("issuerNameHash", "issuer_name_hash").lower(),
            get("issuerKeyHash", "issuer_key_hash").lower(),
            get("serialNumber", "serial_number").lower().lstrip("0") or "0",
            get("responderURL", "responder_url"),
        )

    @classmethod
    def of(cls, certificate: x509.Certificate, issuer: x509.Certificate, url: str = "") -> CertId:
        request = (
            ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA256()).build()
        )
        return cls(
            "SHA256",
            request.issuer_name_hash.hex(),
            request.issuer_key_hash.hex(),
            format(request.serial_number, "x"),
            url or responder_of(certificate),
        )


def responder_of(certificate: x509.Certificate) -> str:
    """The OCSP responder a certificate names (its Authority Information Access), or ""."""
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return ""
    for description in access.value:
        if description.access_method == x509.oid.AuthorityInformationAccessOID.OCSP:
            return str(description.access_location.value)
    return ""


@dataclass(frozen=True)
class Status:
    """What the responder said: `der` (the OCSPResponse, for the station), and the certificate's
    status (good, revoked, unknown); or why there is no answer (`problem`)."""

    der: bytes = b""
    certificate: str = ""  # "good", "revoked", "unknown"
    problem: str = ""

    @property
    def base64(self) -> str:
        return base64.b64encode(self.der).decode()


class OcspError(Exception):
    pass


_cache: OrderedDict[CertId, tuple[float, Status]] = OrderedDict()
_lock = threading.Lock()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _ask(cert_id: CertId) -> Status:
    algorithm = ALGORITHMS.get(cert_id.hash_algorithm)
    if algorithm is None:
        raise OcspError(f"Unknown hash algorithm {cert_id.hash_algorithm!r}")
    url = settings.OCPP_OCSP_RESPONDER_URL or cert_id.responder_url
    if not url.startswith(("http://", "https://")):
        raise OcspError("No OCSP responder to ask (none named, none configured)")
    try:
        serial = int(cert_id.serial_number, 16)
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate_by_hash(
                bytes.fromhex(cert_id.issuer_name_hash),
                bytes.fromhex(cert_id.issuer_key_hash),
                serial,
                algorithm,
            )
            .build()
        )
    except ValueError as error:
        raise OcspError(f"The hash data are not valid: {error}") from None
    http = urllib.request.Request(
        url,
        data=request.public_bytes(serialization.Encoding.DER),
        method="POST",
        headers={"Content-Type": "application/ocsp-request"},
    )
    try:
        with urllib.request.urlopen(http, timeout=settings.OCPP_OCSP_TIMEOUT) as answer:
            der = answer.read(64 * 1024)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise OcspError(f"The OCSP responder did not answer: {error}") from None
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError:
        raise OcspError("The OCSP responder's answer is not an OCSP response") from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspError(f"The OCSP responder answered {response.response_status.name}")
    if (
        response.serial_number != serial
        or response.issuer_key_hash.hex() != cert_id.issuer_key_hash
    ):
        raise OcspError("The OCSP responder answered about another certificate")
    state = {
        ocsp.OCSPCertStatus.GOOD: "good",
        ocsp.OCSPCertStatus.REVOKED: "revoked",
    }.get(response.certificate_status, "unknown")
    status = Status(der, state)
    until = response.next_update_utc or _now() + datetime.timedelta(
        seconds=settings.OCPP_OCSP_CACHE_SECONDS
    )
    keep = min((until - _now()).total_seconds(), settings.OCPP_OCSP_CACHE_SECONDS)
    if keep > 0:
        with _lock:
            _cache[cert_id] = (_now().timestamp() + keep, status)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return status


def lookup(cert_id: CertId) -> Status:
    """The certificate's status (cached until its nextUpdate); a Status with `problem` when no
    responder gave one."""
    with _lock:
        cached = _cache.get(cert_id)
        if cached is not None and cached[0] > _now().timestamp():
            return cached[1]
    try:
        return _ask(cert_id)
    except OcspError as error:
        return Status(problem=str(error))


async def check(cert_id: CertId) -> Status:
    """`lookup` off the event loop."""
    return await asyncio.to_thread(lookup, cert_id)


def forget() -> None:
    """Empty the cache (tests that change what a responder says)."""
    with _lock:
        _cache.clear()
