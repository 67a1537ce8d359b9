"""csms_site/http_handler.py: a request's sync work runs in one thread, borrowed from a pool.

Driven in-process through the ASGI interface, as a server would: Django's promise that a request's
signals, middleware and view share one thread still holds; threads are reused, not started per
request; and a thread still running a cancelled request's view is never lent to the next one.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from django.core.signals import request_started

from csms_site.http_handler import OneHopASGIHandler
from tests import http_urls

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def handler(settings):
    settings.ROOT_URLCONF = "tests.http_urls"
    settings.ALLOWED_HOSTS = ["testserver"]
    return OneHopASGIHandler()


def scope(path: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def get(handler, path: str, disconnect: asyncio.Event | None = None) -> tuple[int, dict]:
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if messages:
            return messages.pop()
        await (disconnect or asyncio.Event()).wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await handler(scope(path), receive, send)
    if not sent:
        return 0, {}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


@pytest.fixture
def started_thread():
    """request_started runs in the request's thread: the view can compare."""
    seen: list[int] = []

    def receiver(**_) -> None:
        seen.append(threading.get_ident())

    request_started.connect(receiver)
    yield seen
    request_started.disconnect(receiver)


async def test_signals_middleware_and_view_share_one_thread_off_the_event_loop(
    handler, started_thread
):
    status, body = await get(handler, "/where/")
    assert status == 200
    assert started_thread == [body["view"]]
    assert body["view"] != threading.get_ident()  # not the event loop's thread


async def test_threads_are_reused_not_started_per_request(handler, started_thread):
    threads = {(await get(handler, "/where/"))[1]["view"] for _ in range(20)}
    assert len(threads) == 1
    concurrent = await asyncio.gather(*(get(handler, "/where/") for _ in range(5)))
    assert all(status == 200 for status, _ in concurrent)


async def test_a_thread_still_running_a_cancelled_request_is_not_lent(handler):
    """The server cancels a request (shutdown, or its own timeout) while the view still runs in
    its thread: the next request must get another thread, not queue behind that view."""
    http_urls.entered.clear()
    http_urls.released.clear()
    first = asyncio.create_task(get(handler, "/blocking/"))
    try:
        assert await asyncio.to_thread(http_urls.entered.wait, 5)  # the view blocks its thread
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        status, _ = await asyncio.wait_for(get(handler, "/where/"), 5)
        assert status == 200  # served at once by another thread
    finally:
        http_urls.released.set()
