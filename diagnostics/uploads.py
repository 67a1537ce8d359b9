"""The CSMS's upload endpoint for stations' log files: `PUT` or `POST` to the URL a GetLog or
GetDiagnostics gave the station (`/uploads/logs/<token>/[<file name>]`).

A plain ASGI application in front of Django, because Django's handler reads the whole body before
any view runs: here the token is checked first (an unknown one is refused before a byte of the body
is read), the declared and the actual size are held to OCPP_UPLOAD_MAX_BYTES (413), and the body
goes to a temporary file in chunks, written and hashed off the event loop, then moved into the
media storage. A `POST` may be the raw file or a multipart form (the first file in it), as
stations' HTTP clients do either.

Stations cannot log in: the token is the credential (256 random bits, stored as its SHA-256, good
for one request: diagnostics/services.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.text import get_valid_filename

from diagnostics import services
from stations.db import in_db_thread

logger = logging.getLogger("csms.uploads")

CHUNK = 1 << 20  # bytes buffered before a write to the temporary file


async def _answer(send: Any, status: int, body: dict[str, Any], headers: tuple = ()) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _file_name(rest: str) -> str:
    name = os.path.basename(unquote(rest).strip("/"))
    try:
        return get_valid_filename(name)[:120] if name else ""
    except Exception:  # SuspiciousFileOperation: nothing usable left
        return ""


class _Spool:
    """The body on its way to disk: written and hashed in a worker thread, a chunk at a time."""

    def __init__(self) -> None:
        handle, name = tempfile.mkstemp(prefix="csms-upload-", dir=settings.FILE_UPLOAD_TEMP_DIR)
        self.file = os.fdopen(handle, "wb")
        self.path = Path(name)
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.digest.update(data)

    def close(self) -> None:
        self.file.close()

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


def _first_file(spool: _Spool, content_type: str) -> tuple[_Spool, str] | None:
    """A multipart body's first file, as a spool of its own (None: the form holds none)."""
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(spool.size)}
    with spool.path.open("rb") as body:
        _, files = MultiPartParser(meta, body, [TemporaryFileUploadHandler()]).parse()
        for name in files:
            uploaded = files.get(name)
            if not isinstance(uploaded, UploadedFile):
                continue
            part = _Spool()
            with uploaded.open("rb") as source:
                while data := source.read(CHUNK):
                    part.size += len(data)
                    part.write(data)
            part.close()
            return part, uploaded.name or ""
    return None


async def upload(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["method"] not in ("PUT", "POST"):
        await _answer(send, 405, {"detail": "PUT or POST the file"}, ((b"allow", b"PUT, POST"),))
        return
    token, _, rest = scope["path"][len(services.UPLOAD_PATH) :].partition("/")
    limit = settings.OCPP_UPLOAD_MAX_BYTES
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        await _answer(send, 413, {"detail": f"The file is larger than {limit} bytes"})
        return
    slot = await in_db_thread(services.slot)(token)
    if slot.request_pk is None:
        await _answer(send, slot.refusal, {"detail": slot.reason})
        return
    spool = _Spool()
    try:
        pending: list[bytes] = []
        buffered = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the station went away: nothing is kept
            data = message.get("body", b"")
            spool.size += len(data)
            if spool.size > limit:
                await _answer(send, 413, {"detail": f"The file is larger than {limit} bytes"})
                return
            pending.append(data)
            buffered += len(data)
            more = message.get("more_body", False)
            if buffered >= CHUNK or not more:
                await asyncio.to_thread(spool.write, b"".join(pending))
                pending, buffered = [], 0
            if not more:
                break
        await asyncio.to_thread(spool.close)
        received, name = spool, _file_name(rest)
        content_type = _header(scope, b"content-type")
        if content_type.startswith("multipart/form-data"):
            part = await asyncio.to_thread(_first_file, spool, content_type)
            if part is None:
                await _answer(send, 400, {"detail": "The form holds no file"})
                return
            received, name = part[0], _file_name(part[1]) or name
            spool.discard()
        stored = await in_db_thread(services.store)(
            token, received.path, name, received.size, received.digest.hexdigest()
        )
        if stored.request_pk is None:
            received.discard()
            await _answer(send, stored.refusal, {"detail": stored.reason})
            return
        await _answer(send, 201, {"size": received.size, "sha256": received.digest.hexdigest()})
    except MultiPartParserError as error:
        await _answer(send, 400, {"detail": f"The form does not parse: {error}"})
    except OSError as error:  # a full disk: the station may retry later
        logger.error("An upload to %s could not be stored: %s", scope["path"][:40], error)
        await _answer(send, 507, {"detail": "The CSMS could not store the file"})
    finally:
        spool.discard()
