"""What one trip from the event loop to a thread and back costs on this machine.

    .venv/bin/python -m bench.hops

Every OCPP message that touches the database pays one such trip (Channels' database_sync_to_async),
and Django's ASGI handler paid about fifteen per HTTP request before csms_site/http_handler.py. The
figures here are the floor under those paths: CPU per trip, measured with time.process_time over
many trips on an otherwise idle loop.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async

TRIPS = 3000


def nothing() -> int:
    return 1


async def cpu_per_trip(trip) -> float:
    for _ in range(100):
        await trip()
    began = time.process_time()
    for _ in range(TRIPS):
        await trip()
    return (time.process_time() - began) / TRIPS * 1e6


async def main() -> None:
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(1)
    to_thread = sync_to_async(nothing, thread_sensitive=True)

    async def plain() -> None:
        await loop.run_in_executor(pool, nothing)

    async def asgiref_hop() -> None:
        await to_thread()

    async def new_thread_per_request() -> None:
        async with ThreadSensitiveContext():
            await to_thread()

    rows = [
        ("loop.run_in_executor (one thread)", await cpu_per_trip(plain)),
        (
            "asgiref sync_to_async (Channels' database_sync_to_async)",
            await cpu_per_trip(asgiref_hop),
        ),
        (
            "a new thread per request, then one hop (Django's ASGI handler)",
            await cpu_per_trip(new_thread_per_request),
        ),
    ]
    for label, micros in rows:
        print(f"{micros:8.0f} µs CPU  {label}")


if __name__ == "__main__":
    asyncio.run(main())
