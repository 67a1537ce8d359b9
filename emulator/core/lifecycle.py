"""The station's life on each connection: boot until accepted, then report and live.

Nothing but BootNotification goes out before the CSMS accepts the station (both versions forbid
it); while Pending or Rejected the station waits the interval given and boots again. Once accepted
it reports every connector, then heartbeats and delivers its outbox until the socket closes, when
`Connection.run` backs off and reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from emulator.core.connectors import ConnectorStatus
from ocppj import CallErrorReceived, RpcEndpoint
from ocppj.errors import InvalidResponse

logger = logging.getLogger("emulator")


class Lifecycle(ConnectorStatus):
    boot_answer: dict[str, Any] | None  # the last BootNotification answer
    boot_reason: str  # of the next boot: RemoteReset after a Reset (2.0.1 BootReasonEnumType)

    async def run(self) -> None:
        """Connect, boot, live; on a lost connection back off and reconnect, until stopped."""
        await self.connection.run(self._session)

    def stop(self) -> None:
        self.connection.stop()

    def backoff(self, attempt: int) -> float:
        return self.connection.backoff(attempt)

    def close_connection(self, *, reconnect_now: bool = False) -> None:
        """Drop the socket (Reset, fault injection). The run loop reconnects."""
        self.connection.close(reconnect_now=reconnect_now)

    def drop_connection(self) -> None:
        """Fault injection: vanish without a closing handshake, as a station losing power does."""
        self.connection.drop()

    async def boot_once(self) -> dict[str, Any]:
        """Connect, send one BootNotification, return the answer, disconnect (`emulate --once`)."""
        with self.connection.span():
            return await self._boot_once()

    async def _boot_once(self) -> dict[str, Any]:
        async with self.connection.open() as ws:
            rpc = self.rpc = self._endpoint(ws)
            reader = asyncio.create_task(self._read(ws, rpc))
            try:
                return await rpc.call("BootNotification", self.protocol.boot_payload())
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                self.rpc = None

    async def _session(self, ws: ClientConnection) -> None:
        self.stats.connects += 1
        path = ws.request.path if ws.request else ""
        logger.info("%s: connected to %s (%s)", self.identity, path, ws.subprotocol)
        rpc = self.rpc = self._endpoint(ws)
        reader = asyncio.create_task(self._read(ws, rpc))
        session_tasks: list[asyncio.Task[None]] = []
        try:
            if await self._boot(rpc, reader):
                self.online.set()
                await self._report_all_statuses()
                session_tasks = [
                    asyncio.create_task(self.heartbeat.run(self.call)),
                    asyncio.create_task(self.outbox.deliver(rpc)),
                ]
            await reader
        finally:
            self.online.clear()
            for task in [reader, *session_tasks]:
                task.cancel()
            for task in [reader, *session_tasks]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            rpc.cancel_pending()
            self.rpc = None
            logger.info("%s: disconnected", self.identity)

    async def _boot(self, rpc: RpcEndpoint, reader: asyncio.Task[None]) -> bool:
        """BootNotification until Accepted; while Pending or Rejected, wait the interval given."""
        while not reader.done():
            try:
                answer = await rpc.call(
                    "BootNotification", self.protocol.boot_payload(self.boot_reason)
                )
            except (CallErrorReceived, InvalidResponse, TimeoutError) as error:
                logger.warning("%s: BootNotification failed: %s", self.identity, error)
                answer = {"status": "Rejected", "interval": 10}
            except (ConnectionError, websockets.ConnectionClosed):
                return False
            self.stats.boots += 1
            self.boot_answer = answer
            logger.info("%s: BootNotification %s", self.identity, answer["status"])
            if answer["status"] == "Accepted":
                self.boot_reason = "PowerUp"
                if self.options.heartbeat_interval is None and answer.get("interval"):
                    self.device.settings["HeartbeatInterval"].value = str(answer["interval"])
                self.protocol.after_boot()
                return True
            wait = answer.get("interval") or 10
            done, _ = await asyncio.wait({reader}, timeout=wait)
            if done:
                return False
        return False
