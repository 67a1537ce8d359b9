"""Django's HTTP handler for ASGI, with a request's sync work in one hop to a reused thread.

Django's ASGIHandler does two things that cost a CSMS's API dearly on a small machine:

- It builds the middleware chain in async mode. Every middleware we run is a sync
  `MiddlewareMixin` (Django's own; WhiteNoise's is sync only), so in that mode each
  `process_request` and `process_response`, CSRF's `process_view` and the view itself hop between
  the event loop and the request's thread: about fifteen hops per request.
- It starts a new thread for every request (a `ThreadSensitiveContext` with its own executor), so
  every request also opens a new database connection.

Measured in-process on this project's 2-core machine: a 405 on /health/ cost 4.9 ms of CPU, an
API 404 7.6 ms, and a REST command with its station's answer about 9 ms, mostly hops, thread starts
and GIL handovers. With this handler: 1.1, 2.7 and about 5 ms.

Here the chain is built in sync mode, as under WSGI, and runs in
one hop; and a request borrows an idle thread from a pool instead of starting one, keeping that
thread's database connection (SQLite: `CONN_MAX_AGE`; PostgreSQL: the pool gets it back at
request_finished, as before). Everything a request runs in its thread-sensitive context (signals,
middleware, view) still runs in one thread of its own, as Django promises. Async views still work
(Django's sync path runs them with async_to_sync); reading the body, disconnects and streaming are
Django's own code.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, cast

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

IDLE_THREADS_KEPT = 32  # threads beyond this many idle ones end when their request does


class RequestThread(ThreadPoolExecutor):
    """One thread that serves one request at a time, and knows whether it is still busy: a request
    cancelled by a client's disconnect may leave its view running, and that thread must not be
    lent to the next request."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="http-request")
        self._lock = threading.Lock()
        self.busy = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        with self._lock:
            self.busy += 1

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.busy -= 1

        return super().submit(run)


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        self._idle: list[RequestThread] = []
        super().__init__()

    # Set by BaseHandler.load_middleware (a private attribute django-stubs does not declare): the
    # middleware chain, a plain function once built in sync mode, a coroutine function once wrapped.
    _middleware_chain: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        chain = cast(Callable[[HttpRequest], HttpResponseBase], self._middleware_chain)
        self._middleware_chain = sync_to_async(chain, thread_sensitive=True)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = self._idle.pop() if self._idle else RequestThread()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            if thread.busy == 0 and len(self._idle) < IDLE_THREADS_KEPT:
                self._idle.append(thread)
            else:
                thread.shutdown(wait=False)  # it ends once its last work item is done


def get_asgi_application() -> OneHopASGIHandler:
    """`django.core.asgi.get_asgi_application`, with our handler."""
    django.setup(set_prefix=False)
    return OneHopASGIHandler()
