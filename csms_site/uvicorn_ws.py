"""uvicorn's WebSocket protocol (websockets-sansio, its default), lighter per idle connection.

uvicorn keeps the handshake's HTTP request and response (header objects of about 4.6 kB) and the
scope's header list for the whole life of the socket, though neither is read after the handshake.
A CSMS keeps thousands of sockets open for days: once the handshake is answered (accepted or
refused), this protocol forgets them. The consumer has read what it needs by then (identity,
credentials, subprotocols, trace context, client address: stations/consumers.py).

    uvicorn csms_site.asgi:application --ws csms_site.uvicorn_ws:LeanWebSocketProtocol ...

It also passes the client certificate a TLS handshake verified to the application, as the ASGI
TLS extension's `client_cert_name` (security profile 3, stations/security.py), which uvicorn does
not. (`WS`, for servers started from Python.) Tested in tests/test_uvicorn_ws.py and
tests/test_security_profiles.py; uvicorn is pinned
exactly (pyproject.toml), as for every library whose internals the project overrides.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

WS = "csms_site.uvicorn_ws:LeanWebSocketProtocol"


def tls_extension(transport: Any) -> dict[str, Any] | None:
    """The ASGI TLS extension of a connection uvicorn terminated TLS for: the client
    certificate's subject (RFC 4514) when the handshake verified one, which uvicorn itself does
    not pass on (security profile 3, stations/security.py)."""
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    peer = ssl_object.getpeercert()
    name = ""
    if peer:
        rdns = [f"{key}={value}" for rdn in peer.get("subject", ()) for key, value in rdn]
        name = ",".join(reversed([_short(r) for r in rdns]))
    return {
        "server_cert": None,
        "client_cert_chain": [],
        "client_cert_name": name or None,
        "client_cert_error": None,
        "tls_version": None,
        "cipher_suite": None,
    }


_SHORT_NAMES = {"commonName": "CN", "organizationName": "O", "countryName": "C"}


def _short(rdn: str) -> str:
    key, _, value = rdn.partition("=")
    escaped = value.replace("\\", "\\\\").replace(",", "\\,")
    return f"{_SHORT_NAMES.get(key, key)}={escaped}"


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and self.scheme == "wss":
            extension = tls_extension(self.transport)
            if extension is not None:
                scope["extensions"]["tls"] = extension

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and getattr(self, "request", None) is not None:
            self.forget_handshake()

    def forget_handshake(self) -> None:
        """The HTTP exchange is over: its request, response and header list are not needed."""
        self.request = None  # type: ignore[assignment]
        self.response = None  # type: ignore[assignment]
        self.scope = {**self.scope, "headers": []}
