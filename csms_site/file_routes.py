"""HTTP paths served beside Django, for stations' file transfers: uploads of their logs
(diagnostics/uploads.py) need the body streamed and bounded, which Django's ASGI handler does not do
(it reads the whole body before a view runs), and firmware downloads (firmware/downloads.py) are
streamed from the storage off the event loop. Everything else goes to Django."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from diagnostics import uploads
from diagnostics.services import UPLOAD_PATH
from firmware import downloads
from firmware.services import DOWNLOAD_PATH

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class FileRoutes:
    def __init__(self, django: Asgi) -> None:
        self.django = django
        self.routes: tuple[tuple[str, Asgi], ...] = (
            (UPLOAD_PATH, uploads.upload),
            (DOWNLOAD_PATH, downloads.serve),
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        for prefix, app in self.routes:
            if path.startswith(prefix):
                await app(scope, receive, send)
                return
        await self.django(scope, receive, send)
