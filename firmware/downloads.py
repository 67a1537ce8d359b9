"""Where stations download the firmware they are told to install: `GET` (or `HEAD`)
`/files/firmware/<token>/<file name>`, the location an update names (firmware/services.py).

A plain ASGI application beside Django (csms_site/file_routes.py): the token is looked up once,
then the file goes out in chunks read off the event loop, so a fleet downloading a 100 MB image
does not hold a thread each or fill memory. The token is the credential (stations cannot log in),
good while its update is in progress.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from firmware import services
from stations.db import in_db_thread

CHUNK = 256 * 1024


async def _refuse(send: Any, status: int, detail: str, headers: tuple = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def serve(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["method"] not in ("GET", "HEAD"):
        await _refuse(send, 405, "GET the firmware", ((b"allow", b"GET, HEAD"),))
        return
    token = scope["path"][len(services.DOWNLOAD_PATH) :].partition("/")[0]
    found = await in_db_thread(services.download)(token)
    if found is None:
        await _refuse(send, 404, "No firmware is served at this address (any more)")
        return
    name = found.name.replace('"', "")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/octet-stream"),
                (b"content-length", str(found.size).encode()),
                (b"content-disposition", f'attachment; filename="{name}"'.encode()),
            ],
        }
    )
    if scope["method"] == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return
    handle = await asyncio.to_thread(open, found.path, "rb")
    try:
        while True:
            chunk = await asyncio.to_thread(handle.read, CHUNK)
            more = len(chunk) == CHUNK
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not more:
                break
    finally:
        await asyncio.to_thread(handle.close)
