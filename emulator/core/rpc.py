"""The RPC endpoint of the current connection, and the station's two ways of calling the CSMS.

One `ocppj.RpcEndpoint` per socket, with the version's protocol object as its handler: the endpoint
routes the CSMS's CALLs to the protocol's `@on` methods and correlates our own, one at a time.
Transaction messages go through the outbox, which calls the endpoint itself and handles failures;
everything else (statuses, heartbeats, notifications) goes through `call`, which gives up quietly,
as such a message is not worth keeping across a disconnection.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from emulator.core.base import StationBase
from ocppj import CallErrorReceived, RpcEndpoint
from ocppj.errors import InvalidResponse

logger = logging.getLogger("emulator")
frames_logger = logging.getLogger("emulator.frames")

# What a message sent with `call` may meet: logged, never raised.
CALL_FAILURES = (
    CallErrorReceived,
    InvalidResponse,
    TimeoutError,
    ConnectionError,
    websockets.ConnectionClosed,
)


class RpcWiring(StationBase):
    rpc: RpcEndpoint | None  # the endpoint of the socket the station is on, if any

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send a message that is not worth keeping across a disconnection (status, heartbeat).
        Returns None when offline or when the CSMS refused it."""
        if self.rpc is None or (not self.online.is_set() and action != "BootNotification"):
            return None
        try:
            return await self.rpc.call(action, payload)
        except CALL_FAILURES as error:
            logger.warning("%s: %s failed: %s", self.identity, action, error)
            return None

    def _endpoint(self, ws: ClientConnection) -> RpcEndpoint:
        return RpcEndpoint(
            version=self.options.protocol,
            handler=self.protocol,
            send=ws.send,
            call_timeout=self.options.call_timeout,
            observer=self._observe,  # looked up now: tests wrap it after creating the station
            name=self.identity,
        )

    async def _read(self, ws: ClientConnection, rpc: RpcEndpoint) -> None:
        """Feed every frame of `ws` to its endpoint `rpc`, until the socket closes."""
        try:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for text in ws:
                    self.stats.received += 1
                    await rpc.receive(text)
        finally:
            # Whatever waits for an answer on this socket will not get one: fail it now, not
            # after call_timeout, so the session ends and the station reconnects at once.
            rpc.cancel_pending()

    def _observe(
        self, direction: str, text: str, message_type: int, unique_id: str, action: str
    ) -> None:
        """Every frame, both ways: counted, and logged when `emulate --log-payload` asks."""
        if direction == "out":
            self.stats.sent += 1
        if frames_logger.isEnabledFor(logging.INFO):
            verb = "send" if direction == "out" else "receive message"
            frames_logger.info("%s: %s %s", self.identity, verb, text)
