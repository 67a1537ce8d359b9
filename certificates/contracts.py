"""ISO 15118 Plug & Charge on the CSMS's side: the contract certificate an EV presents, checked
when the station asks to authorize it (2.0.1 C07), and the contract certificates an EV asks to
have installed or updated, fetched from the contract-certificate provider (M01/M02
Get15118EVCertificate).

**Authorize with a contract.** The station sends the certificate's OCSP hash data
(`iso15118CertificateHashData`, for the leaf and its sub-CAs) or, when it could not check it
itself, the PEM chain (`certificate`). Every certificate named must be `good` at its OCSP
responder; a chain must also be valid now, each certificate signed by the next, and lead to one of
the contract roots the operator trusts (OCPP_CONTRACT_ROOTS_FILE, when set). The answer's
`certificateStatus` names the first problem (CertificateExpired, SignatureError, CertChainError,
CertificateRevoked). When no responder answers, the CSMS refuses (CertChainError): a revoked
contract must not charge because a responder was down. With a valid contract, the eMAID is
authorized even when the CSMS does not know it (OCPP_ACCEPT_VALID_CONTRACTS): the mobility
operator vouches for it, which is what Plug & Charge roaming is; a known eMAID keeps its own status
(a blocked one stays blocked).

**Get15118EVCertificate.** The EXI request is forwarded as it is to the provider
(OCPP_CONTRACT_PROVIDER_URL: POST JSON {"station", "iso15118SchemaVersion", "action",
"exiRequest"}, answered {"status", "exiResponse"}), or to a class of the operator's
(OCPP_CONTRACT_PROVIDER, a dotted path with the `ContractProvider` method). No provider, or one
that fails: Failed.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from django.conf import settings
from django.utils.module_loading import import_string

from certificates.ocsp import CertId, check

logger = logging.getLogger("csms.certificates")
PROVIDER_TIMEOUT = 20.0  # the EV waits; ISO 15118 gives the whole exchange about a minute


@cache
def _roots(path: str) -> tuple[x509.Certificate, ...]:
    return tuple(x509.load_pem_x509_certificates(Path(path).read_bytes())) if path else ()


def _chain_problem(chain: list[x509.Certificate]) -> str:
    now = datetime.datetime.now(datetime.UTC)
    for certificate in chain:
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            return "CertificateExpired"
    for child, parent in itertools.pairwise(chain):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            return "SignatureError"
    roots = _roots(settings.OCPP_CONTRACT_ROOTS_FILE)
    if roots:
        top = chain[-1]
        if top not in roots:
            for root in roots:
                try:
                    top.verify_directly_issued_by(root)
                    break
                except (ValueError, TypeError, InvalidSignature):
                    continue
            else:
                return "CertChainError"
    return ""


async def certificate_status(hash_data: list[dict[str, Any]], chain_pem: str = "") -> str:
    """C07: Accepted, or the first problem of the contract (AuthorizeCertificateStatusEnumType)."""
    ids = [CertId.from_wire(data) for data in hash_data]
    if chain_pem:
        try:
            chain = x509.load_pem_x509_certificates(chain_pem.encode())
        except ValueError:
            return "CertChainError"
        problem = _chain_problem(chain)
        if problem:
            return problem
        roots = _roots(settings.OCPP_CONTRACT_ROOTS_FILE)
        for child, parent in zip(chain, [*chain[1:], *roots[:1]], strict=False):
            ids.append(CertId.of(child, parent))
    if not ids:
        return "NoCertificateAvailable"
    for status in await asyncio.gather(*(check(i) for i in ids)):
        if status.certificate == "revoked":
            return "CertificateRevoked"
        if status.problem or status.certificate != "good":
            logger.warning("A contract certificate could not be checked: %s", status.problem)
            return "CertChainError"
    return "Accepted"


@dataclass(frozen=True)
class ContractAnswer:
    status: str  # Accepted or Failed
    exi_response: str = ""
    problem: str = ""


class ContractProvider(Protocol):
    def get_certificate(
        self, station_id: str, schema_version: str, action: str, exi_request: str
    ) -> ContractAnswer: ...


class HttpProvider:
    def __init__(self, url: str) -> None:
        self.url = url

    def get_certificate(
        self, station_id: str, schema_version: str, action: str, exi_request: str
    ) -> ContractAnswer:
        body = {
            "station": station_id,
            "iso15118SchemaVersion": schema_version,
            "action": action,
            "exiRequest": exi_request,
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=PROVIDER_TIMEOUT) as answer:
                data = json.loads(answer.read(1 << 20))
        except (urllib.error.URLError, OSError, ValueError) as error:
            return ContractAnswer("Failed", problem=f"The contract provider failed: {error}")
        status = "Accepted" if data.get("status") == "Accepted" else "Failed"
        return ContractAnswer(status, str(data.get("exiResponse", ""))[:7500])


def provider() -> ContractProvider | None:
    if settings.OCPP_CONTRACT_PROVIDER:
        made: ContractProvider = import_string(settings.OCPP_CONTRACT_PROVIDER)()
        return made
    if settings.OCPP_CONTRACT_PROVIDER_URL:
        return HttpProvider(settings.OCPP_CONTRACT_PROVIDER_URL)
    return None


async def ev_certificate(
    station_id: str, schema_version: str, action: str, exi_request: str
) -> ContractAnswer:
    """Get15118EVCertificate, forwarded off the event loop."""
    found = provider()
    if found is None:
        return ContractAnswer("Failed", problem="No contract-certificate provider is configured")
    return await asyncio.to_thread(
        found.get_certificate, station_id, schema_version, action, exi_request
    )
