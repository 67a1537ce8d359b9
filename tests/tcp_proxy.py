"""A loopback TCP proxy that tests put between two real parts to break the network between them.

- `freeze()` stops forwarding in both directions but keeps every socket open: to the peers the
  connection is half-open, exactly what a station behind a dead mobile link looks like.
- `cut()` closes every connection and refuses new ones until `restore()`: a database or network
  outage.

It runs in its own thread with its own event loop, so synchronous and async tests can use it alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from tests.servers import free_port

T = TypeVar("T")


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.connections_made = 0
        self._cut = threading.Event()
        self._flowing: asyncio.Event | None = None  # cleared while frozen; lives in the loop
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> TcpProxy:
        self._thread.start()
        self._flowing = self._run(self._make_event())
        self._server = self._run(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024)
        )
        return self

    def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
        self._run(self._cancel_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def freeze(self) -> None:
        self._loop.call_soon_threadsafe(self.flowing.clear)

    def cut(self) -> None:
        self._cut.set()
        self._run(self._close_all())
        self._loop.call_soon_threadsafe(self.flowing.set)  # wake held pipes so they end

    def restore(self) -> None:
        self._cut.clear()
        self._loop.call_soon_threadsafe(self.flowing.set)

    # --- internals ------------------------------------------------------------------------------

    @property
    def flowing(self) -> asyncio.Event:
        assert self._flowing is not None, "start() the proxy first"
        return self._flowing

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    @staticmethod
    async def _make_event() -> asyncio.Event:
        event = asyncio.Event()
        event.set()
        return event

    @staticmethod
    async def _cancel_tasks() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut.is_set():
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections_made += 1
        self._writers.update((writer, upstream_writer))
        with contextlib.suppress(asyncio.CancelledError):  # stop(): not worth a traceback
            await asyncio.gather(
                self._pipe(reader, upstream_writer),
                self._pipe(upstream_reader, writer),
            )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not self._cut.is_set():
                data = await reader.read(65536)
                if not data:
                    break
                await self.flowing.wait()  # while frozen, the data is held, never delivered
                if self._cut.is_set():
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
