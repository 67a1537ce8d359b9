"""Reading the WebSocket handshake: which OCPP version, which credentials, which address."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ocppj import SUBPROTOCOLS


def negotiate(offered: Iterable[str], only: str | None) -> tuple[str | None, str | None]:
    """(subprotocol to answer, OCPP version), or (None, None) to refuse the upgrade.

    The first subprotocol in the client's offer (its order of preference, RFC 6455 §4.1) that we
    speak wins; on a versioned URL (`only`), only that version. A versioned URL with no offer at all
    is accepted as its version: some 1.6 chargers never send Sec-WebSocket-Protocol.
    """
    names = list(offered)  # the ASGI scope's `subprotocols`: any iterable
    for name in names:
        version = SUBPROTOCOLS.get(name.strip())
        if version is not None and (only is None or version == only):
            return name.strip(), version
    if only and not names:
        return None, only
    return None, None


def header(scope: Mapping[str, Any], name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


def text_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """The handshake headers as text, lower-case names (what OpenTelemetry's propagator reads)."""
    return {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope.get("headers", ())}


def client_address(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def can_send_http_denial(scope: Mapping[str, Any]) -> bool:
    """Whether the ASGI server can answer a refused handshake with our own HTTP status (the
    WebSocket Denial Response extension: uvicorn and hypercorn can; daphne answers 403)."""
    return "websocket.http.response" in scope.get("extensions", {})


async def refuse(scope: Mapping[str, Any], send: Any, status: int, reason: str) -> None:
    """Refuse a handshake before the upgrade: our HTTP status and `reason` as the body where the
    server can send them, else a plain close (daphne answers 403)."""
    try:
        if can_send_http_denial(scope):
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            if status == 401:
                headers.append((b"www-authenticate", b'Basic realm="OCPP", charset="UTF-8"'))
            start = {"type": "websocket.http.response.start", "status": status, "headers": headers}
            await send(start)
            await send({"type": "websocket.http.response.body", "body": reason.encode()})
        else:
            await send({"type": "websocket.close"})
    except OSError:  # the client is gone (uvicorn's ClientDisconnected): nobody to answer
        pass
