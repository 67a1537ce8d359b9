"""Outside parties of Plug & Charge, as small real servers on loopback: an OCSP responder
(RFC 6960, signed by the issuing CA) and a contract-certificate provider (JSON over HTTP). Each
counts what it was asked, so tests see the CSMS really asked (or used its cache)."""

from __future__ import annotations

import datetime
import http.server
import json
import threading
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from stations.certificates import Issued


class _Server:
    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.owner = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.asked = 0
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class OcspResponder(_Server):
    """Answers for the certificates it was told of: good, or revoked; anything else Unauthorized."""

    def __init__(self) -> None:
        self.known: dict[int, tuple[x509.Certificate, Issued, bool]] = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner: OcspResponder = self.server.owner  # type: ignore[attr-defined]
                owner.asked += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ocsp.load_der_ocsp_request(body)
                found = owner.known.get(request.serial_number)
                if found is None:
                    response = ocsp.OCSPResponseBuilder.build_unsuccessful(
                        ocsp.OCSPResponseStatus.UNAUTHORIZED
                    )
                else:
                    certificate, issuer, revoked = found
                    now = datetime.datetime.now(datetime.UTC)
                    response = (
                        ocsp.OCSPResponseBuilder()
                        .add_response(
                            cert=certificate,
                            issuer=issuer.certificate,
                            algorithm=hashes.SHA256(),
                            cert_status=ocsp.OCSPCertStatus.REVOKED
                            if revoked
                            else ocsp.OCSPCertStatus.GOOD,
                            this_update=now,
                            next_update=now + datetime.timedelta(hours=1),
                            revocation_time=now if revoked else None,
                            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
                        )
                        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.certificate)
                        .sign(issuer.key, hashes.SHA256())
                    )
                data = response.public_bytes(serialization.Encoding.DER)
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)

    def tell(self, certificate: x509.Certificate, issuer: Issued, *, revoked: bool = False) -> None:
        self.known[certificate.serial_number] = (certificate, issuer, revoked)


class ContractProvider(_Server):
    """Answers every Get15118EVCertificate with an EXI response naming what it was sent."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner: ContractProvider = self.server.owner  # type: ignore[attr-defined]
                owner.asked += 1
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(request)
                data = json.dumps(
                    {"status": "Accepted", "exiResponse": f"EXI-FOR-{request['exiRequest']}"}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


def contract(
    issuer: Issued,
    emaid: str,
    *,
    responder: str = "",
    days: int = 365,
    start: datetime.datetime | None = None,
) -> Issued:
    """An EV's contract certificate (CN = its eMAID), naming its OCSP responder."""
    key = ec.generate_private_key(ec.SECP256R1())
    begin = start or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, emaid)]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(begin)
        .not_valid_after(begin + datetime.timedelta(days=days))
    )
    if responder:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(responder),
                    )
                ]
            ),
            critical=False,
        )
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)
