"""The ASGI lifespan: the background jobs (stations/background.py) start with the server process
and stop with it, writing out what they buffer before it exits.

`LifespanApp` wraps the whole application (csms_site/asgi.py):

- `lifespan.startup` starts the jobs; `lifespan.shutdown` (after the server has closed every
  connection) stops them, flushes presence, the message log, refused logins and dashboard events,
  and releases the cluster lock. uvicorn sends both with `--lifespan on` (the Dockerfile,
  docker-compose.yml, the tests' servers).
- daphne (and so `manage.py runserver`, `make run`) has no lifespan protocol (daphne 4.2: it never
  sends a `lifespan` scope). There the first request or socket starts the jobs, and the Twisted
  reactor's shutdown (SIGTERM, SIGINT with --noreload) stops and flushes them. Under runserver's
  autoreloader the reactor runs without signal handlers and Ctrl+C ends the process without that
  step: up to one flush interval of presence and message log is lost, as in a crash.

Either way the jobs run at most once per process: `runner.start` refuses while they run, so a
lifespan startup followed by the first socket, or a second "first use", starts nothing.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from stations.background import runner

logger = logging.getLogger("csms.jobs")

Scope = dict[str, Any]
Receive = Any
Send = Any


class LifespanApp:
    """The ASGI application: lifespan messages drive the background jobs, the rest goes to `app`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        # The wrapped router's attributes (bench/echo_asgi.py reads `application_mapping`).
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if not runner.running:
            start_on_first_use()
        await self.app(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    runner.start("lifespan")
                except Exception as error:
                    logger.exception("background jobs: startup failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await runner.stop()
                except Exception as error:
                    logger.exception("background jobs: shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": repr(error)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return


def start_on_first_use() -> None:
    """No lifespan started the jobs: start them now, and under daphne stop them with its reactor."""
    if runner.ensure_started():
        stop_with_daphne(asyncio.get_running_loop())


def stop_with_daphne(loop: asyncio.AbstractEventLoop) -> bool:
    """When this loop is daphne's (Twisted's asyncio reactor), stop and flush the jobs before the
    reactor shuts down; whether it is. A Deferred returned by a "before" trigger holds the
    shutdown until it fires."""
    reactor: Any = sys.modules.get("twisted.internet.reactor")
    if reactor is None or getattr(reactor, "_asyncioEventloop", None) is not loop:
        return False
    if getattr(reactor, "csms_stops_background_jobs", False):
        return True  # one trigger: the jobs of this process are the runner's, whichever start
    from twisted.internet import defer

    def stop() -> Any:
        return defer.Deferred.fromFuture(loop.create_task(runner.stop()))

    reactor.addSystemEventTrigger("before", "shutdown", stop)
    reactor.csms_stops_background_jobs = True
    return True
