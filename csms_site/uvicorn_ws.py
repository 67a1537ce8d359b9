"""uvicorn's WebSocket protocol (websockets-sansio, its default), lighter per idle connection.

uvicorn keeps the handshake's HTTP request and response (header objects of about 4.6 kB) and the
scope's header list for the whole life of the socket, though neither is read after the handshake.
A CSMS keeps thousands of sockets open for days: once the handshake is answered (accepted or
refused), this protocol forgets them. The consumer has read what it needs by then (identity,
credentials, subprotocols, trace context, client address: stations/consumers.py).

    uvicorn csms_site.asgi:application --ws csms_site.uvicorn_ws:LeanWebSocketProtocol ...

(`WS`, for servers started from Python.) Tested in tests/test_uvicorn_ws.py; uvicorn is pinned
exactly (pyproject.toml), as for every library whose internals the project overrides.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

WS = "csms_site.uvicorn_ws:LeanWebSocketProtocol"


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and getattr(self, "request", None) is not None:
            self.forget_handshake()

    def forget_handshake(self) -> None:
        """The HTTP exchange is over: its request, response and header list are not needed."""
        self.request = None  # type: ignore[assignment]
        self.response = None  # type: ignore[assignment]
        self.scope = {**self.scope, "headers": []}
