"""The REST API of a live server (a process started by the test), as an integrator calls it:
urllib in a thread, a staff token."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

HTTP_TIMEOUT = 30.0


@database_sync_to_async
def staff_token(username: str = "operator") -> str:
    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    return Token.objects.create(user=user).key


def _http(
    method: str, url: str, token: str, body: Any, context: ssl.SSLContext | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT, context=context) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class LiveApi:
    def __init__(self, server: Any, token: str, *, tls: ssl.SSLContext | None = None):
        """`tls`: the server speaks only HTTPS, with a certificate this context trusts."""
        url = server.http_url.replace("http://", "https://") if tls else server.http_url
        self.base = f"{url}/api"
        self.token = token
        self.tls = tls

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = f"{self.base}{path}"
        return await asyncio.to_thread(_http, method, url, self.token, body, self.tls)

    async def command(self, station: str, action: str, payload: dict[str, Any]) -> tuple[int, Any]:
        return await self.call("POST", f"/stations/{station}/commands/{action}/", payload)


async def full_report(api: LiveApi, station: Any, request_id: int, timeout: float = 10.0) -> None:
    """GetBaseReport FullInventory through REST, and every NotifyReport part stored."""
    from tests.emulated import all_parts_answered

    status, answer = await api.command(
        station.identity,
        "GetBaseReport",
        {"requestId": request_id, "reportBase": "FullInventory"},
    )
    assert (status, answer) == (200, {"status": "Accepted"}), answer
    await station.until(all_parts_answered(station, "NotifyReport"), timeout)
