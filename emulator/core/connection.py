"""The WebSocket to the CSMS: opening it as a station does, and keeping it up.

A station reconnects after any failure with the exponential back-off and jitter of 2.0.1
RetryBackOff* (1.6 specifies none, so it gets the same), so a CSMS restart is met by a spread-out
wave of reconnections, not a synchronised storm; after a Reset it reconnects at once.
What happens on a connection (boot, heartbeats, the outbox) is not this module's business: `run` is
given it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

import websockets
from opentelemetry.trace import Span, SpanKind
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from emulator.core.device import Device
from emulator.core.options import StationOptions
from ocppj import telemetry

logger = logging.getLogger("emulator")
# websockets' own frame log, per station; `emulate --log-lifecycle` shows its pings and pongs.
websocket_logger = logging.getLogger("emulator.websocket")

Session = Callable[[ClientConnection], Awaitable[None]]


class Connection:
    def __init__(
        self,
        options: StationOptions,
        device: Device,
        rng: random.Random,
        *,
        subprotocol: str,
        spawn: Callable[[Awaitable[Any]], asyncio.Task[Any]],
    ) -> None:
        self.options = options
        self.device = device  # AuthorizationKey and RetryBackOff* are read at each use
        self.rng = rng
        self.subprotocol = subprotocol
        self._spawn = spawn
        self.ws: ClientConnection | None = None  # the open socket, while a session runs on it
        self._stop = asyncio.Event()
        self._reconnect_now = asyncio.Event()

    @property
    def identity(self) -> str:
        return self.options.identity

    def stop(self) -> None:
        """End `run` at its next wait; the caller closes the socket (`close`) to end a session."""
        self._stop.set()

    async def run(self, session: Session) -> None:
        """Connect and run `session` on the socket; when it ends or fails, back off and reconnect,
        until stopped (or at once if `reconnect` is off)."""
        attempt = 0
        while not self._stop.is_set():
            try:
                with self.span():
                    async with self.open() as ws:
                        attempt = 0
                        self.ws = ws
                        try:
                            await session(ws)
                        finally:
                            self.ws = None
            except (OSError, InvalidHandshake, TimeoutError, websockets.ConnectionClosed) as error:
                logger.info("%s: connection failed: %s", self.identity, _describe(error))
            if self._stop.is_set() or not self.options.reconnect:
                return
            delay = 0.0 if self._reconnect_now.is_set() else self.backoff(attempt)
            self._reconnect_now.clear()
            attempt += 1
            logger.info("%s: reconnecting in %.1f s", self.identity, delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()

    def backoff(self, attempt: int) -> float:
        """2.0.1 B.RetryBackOff: minimum x 2^attempt (capped by RepeatTimes) + random jitter."""
        minimum = self.device.integer("RetryBackOffWaitMinimum")
        repeats = self.device.integer("RetryBackOffRepeatTimes")
        jitter = self.rng.uniform(0, self.device.integer("RetryBackOffRandomRange"))
        return (minimum * 2 ** min(attempt, repeats) + jitter) * self.options.retry_unit

    def span(self) -> AbstractContextManager[Span]:
        """One span per WebSocket connection: the parent of every message on it, on both sides
        (its traceparent travels in the handshake headers)."""
        return telemetry.tracer.start_as_current_span(
            "ocpp.station.connection",
            kind=SpanKind.CLIENT,
            attributes={
                "ocpp.station_id": self.identity,
                "ocpp.protocol": self.options.protocol,
                "server.address": self.options.url,
            },
        )

    def open(self) -> websockets.connect:
        """The handshake a station makes: its identity in the path, the version's subprotocol,
        Basic auth from AuthorizationKey (read now: ChangeConfiguration may have set a new one)."""
        headers: dict[str, str] = {}
        password = self.device.settings["AuthorizationKey"].value
        if password:
            token = base64.b64encode(f"{self.identity}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        telemetry.inject(headers)  # traceparent of the connection span, when tracing
        url = self.options.url.rstrip("/") + "/" + self.identity
        tls: dict[str, Any] = {}
        if self.options.ssl_context:
            tls["ssl"] = self.options.ssl_context  # wss:// without one: the system's trusted CAs
        return websockets.connect(
            url,
            subprotocols=[Subprotocol(self.subprotocol)],
            additional_headers=headers,
            open_timeout=self.options.call_timeout,
            max_size=2**20,
            ping_interval=self.options.ping_interval,
            logger=logging.LoggerAdapter(websocket_logger, {"station": self.identity}),
            **tls,
        )

    def close(self, *, reconnect_now: bool = False) -> None:
        """Close the socket with a closing handshake (Reset, shutdown); `run` then reconnects."""
        if reconnect_now:
            self._reconnect_now.set()
        if self.ws is not None:
            self._spawn(self.ws.close())

    def drop(self) -> None:
        """Fault injection: vanish without a closing handshake, as a station losing power does."""
        if self.ws is not None:
            self.ws.transport.abort()


def _describe(error: BaseException) -> str:
    if isinstance(error, InvalidStatus):
        return f"HTTP {error.response.status_code}"
    return str(error) or type(error).__name__
