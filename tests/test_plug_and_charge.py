"""ISO 15118 Plug & Charge and OCSP on the CSMS's side (OCPP 2.0.1 C07, M01/M02, M06), in process
with exact frames, against a real OCSP responder and a real contract-certificate provider on
loopback (tests/pki_servers.py):

- M06 GetCertificateStatus: the CSMS asks the responder the station names and relays its DER
  answer (base64); a responder that cannot be reached is Failed, with the reason;
- C07 Authorize with the contract's hash data: good → Accepted (an unknown eMAID too: the mobility
  operator vouches, OCPP_ACCEPT_VALID_CONTRACTS), revoked → Invalid + CertificateRevoked, a known
  blocked eMAID stays Blocked, no responder → refused (CertChainError); answers are cached until
  their nextUpdate;
- C07 Authorize with the PEM chain: expired → CertificateExpired, a chain whose links do not sign
  each other → SignatureError, a chain not leading to a trusted contract root → CertChainError, a
  good chain checked at the responder its certificate names → Accepted;
- M01/M02 Get15118EVCertificate: forwarded to the provider, its EXI answer returned; without a
  provider, Failed.
"""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp as x509_ocsp

from certificates import ocsp
from certificates.ocsp import CertId
from stations import certificates as tls
from stations.models import IdToken
from tests.pki_servers import ContractProvider, OcspResponder, contract

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def responder():
    server = OcspResponder()
    ocsp.forget()
    yield server
    server.close()
    ocsp.forget()


@pytest.fixture
def mo():
    """A mobility operator's sub-CA (its contracts' issuer)."""
    return tls.authority("MO Sub-CA 1")


def pem(*certificates) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


def hash_data(leaf, issuer, url: str) -> dict[str, str]:
    cert_id = CertId.of(leaf, issuer, url)
    return {
        "hashAlgorithm": cert_id.hash_algorithm,
        "issuerNameHash": cert_id.issuer_name_hash,
        "issuerKeyHash": cert_id.issuer_key_hash,
        "serialNumber": cert_id.serial_number,
        "responderURL": cert_id.responder_url,
    }


def emaid(value: str) -> dict[str, str]:
    return {"idToken": value, "type": "eMAID"}


@pytest.mark.parametrize("version", ["2.0.1"])
async def test_m06_the_csms_relays_the_responders_answer(booted, responder, mo):
    leaf = contract(mo, "DE-ABC-C12345678-9").certificate
    responder.tell(leaf, mo)
    answer = await booted.result(
        "GetCertificateStatus", {"ocspRequestData": hash_data(leaf, mo.certificate, responder.url)}
    )
    assert answer["status"] == "Accepted"
    relayed = x509_ocsp.load_der_ocsp_response(base64.b64decode(answer["ocspResult"]))
    assert relayed.response_status == x509_ocsp.OCSPResponseStatus.SUCCESSFUL
    assert relayed.certificate_status == x509_ocsp.OCSPCertStatus.GOOD
    assert relayed.serial_number == leaf.serial_number

    nowhere = hash_data(leaf, mo.certificate, "http://127.0.0.1:9/")
    nowhere["serialNumber"] = "1234"  # not cached
    answer = await booted.result("GetCertificateStatus", {"ocspRequestData": nowhere})
    assert answer["status"] == "Failed" and answer["statusInfo"]["reasonCode"] == "OCSPUnavailable"


@pytest.mark.parametrize("version", ["2.0.1"])
async def test_c07_a_contract_by_its_hash_data(booted, responder, mo):
    good = contract(mo, "DE-ABC-C00000001-1").certificate
    revoked = contract(mo, "DE-ABC-C00000002-2").certificate
    responder.tell(good, mo)
    responder.tell(revoked, mo, revoked=True)

    def authorize(token: str, leaf, url: str = responder.url) -> dict:
        return {
            "idToken": emaid(token),
            "iso15118CertificateHashData": [hash_data(leaf, mo.certificate, url)],
        }

    answer = await booted.result("Authorize", authorize("DE-ABC-C00000001-1", good))
    assert answer == {"idTokenInfo": {"status": "Accepted"}, "certificateStatus": "Accepted"}
    asked = responder.asked
    assert await booted.result("Authorize", authorize("DE-ABC-C00000001-1", good)) == answer
    assert responder.asked == asked  # the answer is cached until its nextUpdate

    answer = await booted.result("Authorize", authorize("DE-ABC-C00000002-2", revoked))
    assert answer == {
        "idTokenInfo": {"status": "Invalid"},
        "certificateStatus": "CertificateRevoked",
    }

    await IdToken.objects.acreate(token="DE-ABC-C00000001-1", status="Blocked")
    answer = await booted.result("Authorize", authorize("DE-ABC-C00000001-1", good))
    assert answer["idTokenInfo"]["status"] == "Blocked"  # its own status, contract or not

    ocsp.forget()
    responder.close()  # down: fail closed
    answer = await booted.result("Authorize", authorize("DE-ABC-C00000003-3", good))
    assert answer == {"idTokenInfo": {"status": "Invalid"}, "certificateStatus": "CertChainError"}


@pytest.mark.parametrize("version", ["2.0.1"])
async def test_c07_a_contract_by_its_chain(booted, responder, mo, settings, tmp_path):
    good = contract(mo, "DE-ABC-C00000010-0", responder=responder.url).certificate
    responder.tell(good, mo)
    roots = tmp_path / "roots.pem"
    roots.write_text(pem(mo.certificate))  # the operator trusts this MO's CA
    settings.OCPP_CONTRACT_ROOTS_FILE = str(roots)

    async def chain_status(*certificates) -> dict:
        return await booted.result(
            "Authorize", {"idToken": emaid("DE-ABC-C00000010-0"), "certificate": pem(*certificates)}
        )

    assert (await chain_status(good))["certificateStatus"] == "Accepted"
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=10)
    expired = contract(mo, "DE-ABC-C00000010-0", days=1, start=past).certificate
    assert (await chain_status(expired))["certificateStatus"] == "CertificateExpired"
    other = tls.authority("Someone else")
    assert (await chain_status(good, other.certificate))["certificateStatus"] == "SignatureError"
    stranger = contract(other, "DE-ABC-C00000010-0", responder=responder.url).certificate
    answer = await chain_status(stranger)
    assert answer == {"idTokenInfo": {"status": "Invalid"}, "certificateStatus": "CertChainError"}


@pytest.mark.parametrize("version", ["2.0.1"])
async def test_m01_m02_an_ev_certificate_comes_from_the_provider(booted, settings):
    request = {
        "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
        "action": "Install",
        "exiRequest": "AAEC",
    }
    answer = await booted.result("Get15118EVCertificate", request)
    assert answer["status"] == "Failed" and answer["exiResponse"] == ""
    provider = ContractProvider()
    try:
        settings.OCPP_CONTRACT_PROVIDER_URL = provider.url
        answer = await booted.result("Get15118EVCertificate", request)
        assert answer == {"status": "Accepted", "exiResponse": "EXI-FOR-AAEC"}
        assert provider.requests == [
            {
                "station": "CP_1",
                "iso15118SchemaVersion": request["iso15118SchemaVersion"],
                "action": "Install",
                "exiRequest": "AAEC",
            }
        ]
    finally:
        provider.close()
