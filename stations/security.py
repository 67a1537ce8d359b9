"""How a connection is secured, and what a station's security profile demands of it (OCPP 2.0.1
Part 2 A00, the 1.6 security whitepaper).

| profile | transport | the station proves its identity by |
|---|---|---|
| 0 | ws or wss | nothing, or its Basic-auth key if it has one (the CSMS's behaviour before profiles) |
| 1 | ws or wss | HTTP Basic auth: username = identity, its key |
| 2 | wss (TLS) | HTTP Basic auth over TLS |
| 3 | wss (TLS) | a client certificate the CSMS's trust store verified, its subject CN = the identity (a password alone is refused) |

A station's profile is the least it may connect with: a station registered at profile 3 is refused
with only a password, and one at 2 over plain ws:// (no downgrade).

Where TLS ends decides where the CSMS learns of it:

- **The CSMS terminates TLS** (uvicorn with `--ssl-*`, `csms_site.uvicorn_ws`): the scope's scheme
  is `wss` and its `tls` extension (ASGI TLS extension) carries the verified client certificate's
  subject.
- **A proxy terminates TLS** (deploy/nginx.conf): the proxy verifies the client certificate and
  passes the verdict and the subject in headers (`X-SSL-Client-Verify`, `X-SSL-Client-S-DN`),
  which it always sets itself, so a station cannot forge them. The CSMS reads them only with
  OCPP_TLS_CLIENT_HEADERS on, which an operator turns on only where every connection comes
  through that proxy (the compose stack).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from stations import handshake

VERIFY_HEADER = b"x-ssl-client-verify"
SUBJECT_HEADER = b"x-ssl-client-s-dn"
# An RFC 4514 / RFC 2253 distinguished name's attributes, separated by unescaped commas (nginx's
# $ssl_client_s_dn, the ASGI TLS extension's client_cert_name).
_RDN = re.compile(r"(?:^|(?<!\\),)\s*([A-Za-z0-9.]+)=((?:\\.|[^,\\])*)")


@dataclass(frozen=True)
class ConnectionSecurity:
    tls: bool = False
    client_cn: str = ""  # the verified client certificate's subject CN ("": none)
    certificate_problem: str = ""  # a certificate was presented and refused (by the proxy)


PLAIN = ConnectionSecurity()  # ws://, no certificate


def common_name(subject: str) -> str:
    """The CN of a distinguished name ("" if it has none), unescaped."""
    for key, value in _RDN.findall(subject or ""):
        if key.upper() in ("CN", "2.5.4.3"):
            return re.sub(r"\\(.)", r"\1", value.strip())
    return ""


def from_scope(scope: Mapping[str, Any]) -> ConnectionSecurity:
    tls = scope.get("scheme") in ("wss", "https")
    extension = (scope.get("extensions") or {}).get("tls") or {}
    if extension.get("client_cert_name"):
        return ConnectionSecurity(tls, common_name(str(extension["client_cert_name"])))
    if settings.OCPP_TLS_CLIENT_HEADERS:
        verify = (handshake.header(scope, VERIFY_HEADER) or b"").decode("latin1")
        if verify == "SUCCESS":
            subject = (handshake.header(scope, SUBJECT_HEADER) or b"").decode("latin1")
            return ConnectionSecurity(tls, common_name(subject))
        if verify and verify != "NONE":
            return ConnectionSecurity(tls, certificate_problem=verify[:200])
    return ConnectionSecurity(tls)


def profile_problem(
    profile: int, identity: str, has_credentials: bool, security: ConnectionSecurity
) -> str:
    """Why this connection falls short of the station's security profile ("" if it does not);
    for profiles 1 and 2 the key itself is checked after this."""
    if profile >= 2 and not security.tls:
        return f"Security profile {profile} requires TLS (wss://)"
    if profile == 3:
        if security.certificate_problem:
            return f"Client certificate refused: {security.certificate_problem}"
        if not security.client_cn:
            return "Security profile 3 requires a client certificate"
        if security.client_cn != identity:
            return f"The client certificate is for {security.client_cn!r}, not {identity!r}"
        # A Basic-auth header beside a valid certificate is ignored: the certificate proves the
        # identity, and a station that sends both is not locked out for it.
    if profile in (1, 2) and not has_credentials:
        return f"Security profile {profile} requires Basic auth"
    return ""
